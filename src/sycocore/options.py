"""Option models shared by every plugin kind.

Each plugin class declares an ``Options`` pydantic model. The CLI fills it from
its flags and from ``KEY=VALUE`` pairs, and the model validates them, so an
unknown key or a bad value fails with a message that names the field.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError

__all__ = ["PluginOptions", "parse_key_values", "validate_options"]


class PluginOptions(BaseModel):
    """Base of every plugin's options: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=PluginOptions)


def validate_options(options_class: type[OptionsT], values: dict[str, Any], owner: str) -> OptionsT:
    """Build ``options_class`` from ``values`` or raise a ConfigError naming each bad field.

    ``owner`` names the plugin for the message, e.g. ``backend 'hf'``.
    """
    try:
        return options_class.model_validate(values)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            field = ".".join(str(part) for part in detail["loc"]) or "(options)"
            if detail["type"] == "extra_forbidden":
                known = ", ".join(sorted(options_class.model_fields)) or "none"
                problems.append(f"{field!r} is not an option (options: {known})")
            else:
                value = detail.get("input")
                problems.append(f"{field}={value!r}: {detail['msg']}")
        raise ConfigError(f"invalid options for {owner}: {'; '.join(problems)}") from None


def parse_key_values(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    """Turn ``["key=value", ...]`` into a dict; values stay strings for pydantic to coerce.

    An empty value is passed as ``None`` so an option can be unset. ``flag`` names
    the CLI flag in error messages.
    """
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, separator, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not separator or not key:
            raise ConfigError(f"{flag} {pair!r} is not KEY=VALUE, e.g. {flag} threads=2")
        result[key] = value if value != "" else None
    return result
