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
    import typer

    from ..errors import SycoError
    from .app import build_app, configure_logging_early
    from .output import print_error

    try:
        configure_logging_early(sys.argv[1:] if argv is None else argv)
        command = build_app()
        result = command.main(args=argv, prog_name="syco", standalone_mode=False)
    except SycoError as error:
        print_error(str(error))
        return 1
    except (typer.Abort, KeyboardInterrupt):
        print_error("interrupted")
        return 130
    except typer.Exit as error:
        return int(error.exit_code)
    except typer.TyperException as error:
        # Usage errors: a wrong flag, a missing argument, a bad parameter value.
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            print_error(str(error))
        return int(getattr(error, "exit_code", 2))
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
