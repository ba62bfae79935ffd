"""Registry of response formats, selected by name.

Built in: ``openai-chat``, ``tgi``, ``lmi`` and ``auto`` (recognises any registered format from the first
payload of the response). Add one by registering an instance of a :class:`ResponseFormat` subclass::

    from sagemaker_provider.formats import register_format
    register_format(MyFormat())
"""

from __future__ import annotations

from .auto import AutoFormat
from .base import ChunkInterpreter, ModelRequest, ResponseFormat, ResponseParser
from .native import LmiFormat, TgiFormat
from .openai_chat import OpenAIChatFormat

__all__ = [
    "ChunkInterpreter",
    "ModelRequest",
    "ResponseFormat",
    "ResponseParser",
    "format_names",
    "get_format",
    "register_format",
    "unregister_format",
]

_FORMATS: dict[str, ResponseFormat] = {}


def register_format(response_format: ResponseFormat, *, replace: bool = False) -> None:
    """Make ``response_format`` selectable by its name (and recognisable by ``auto``).

    Raises:
        ValueError: The name is empty, or taken and ``replace`` is false.
        TypeError: The object is not a :class:`ResponseFormat`.

    """
    if not isinstance(response_format, ResponseFormat):
        raise TypeError(f"expected a ResponseFormat instance, got {type(response_format).__name__}")
    name = response_format.name
    if not name or not isinstance(name, str):
        raise ValueError("a response format needs a non-empty string 'name'")
    if name in _FORMATS and not replace:
        raise ValueError(f"response format {name!r} is already registered (pass replace=True to replace it)")
    _FORMATS[name] = response_format


def unregister_format(name: str) -> None:
    """Remove a registered format.

    Raises:
        ValueError: No format has that name, or it is ``auto``.

    """
    if name == "auto" or name not in _FORMATS:
        raise ValueError(f"cannot unregister response format {name!r}")
    del _FORMATS[name]


def get_format(name: str) -> ResponseFormat:
    """Return the format registered under ``name``.

    Raises:
        ValueError: No format has that name (the message lists the registered ones).

    """
    try:
        return _FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown response_format {name!r}; registered: {', '.join(format_names())}"
        ) from None


def format_names() -> list[str]:
    """Return the registered format names."""
    return list(_FORMATS)


def _sniffable() -> list[ResponseFormat]:
    return [fmt for name, fmt in _FORMATS.items() if name != "auto"]


for _builtin in (AutoFormat(_sniffable), OpenAIChatFormat(), TgiFormat(), LmiFormat()):
    register_format(_builtin)
