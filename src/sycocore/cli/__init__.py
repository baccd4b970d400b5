"""The ``syco`` command line.

:func:`main` runs the typer app and turns errors into exit codes: 0 success,
1 a :class:`~sycocore.errors.SycoError` (printed as one line, no traceback),
2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    import click

    from ..errors import SycoError
    from .app import build_app
    from .output import print_error

    try:
        command = build_app()
        result = command.main(args=argv, prog_name="syco", standalone_mode=False)
    except SycoError as error:
        print_error(str(error))
        return 1
    except click.exceptions.Abort:
        print_error("interrupted")
        return 130
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as error:
        return error.exit_code
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
