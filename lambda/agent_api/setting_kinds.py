"""What a row of the settings table is, and how the whole table is read from and written to an environment.

A :class:`Setting` is one setting of the agent API (`agent_api.contract.SETTINGS`): the environment variable
the function reads, where the deployment takes its value from (a `cdk.json` key, or the stack itself), its
kind, its default and a one-line description. Its :class:`Kind` says in one place how a value is checked in
`cdk.json` at synth (:meth:`Kind.check`), written into the function's environment (:meth:`Kind.encode`) and
read back at start (:meth:`Kind.read`), so a value synth accepts is one the function accepts.

A default is stated as `cdk.json` would state it (``"current_time,calculator"``, not a tuple); the value the
app starts with is that default encoded and read back, like any configured value.

Standard library only: the CDK app loads this file with the contract (stacks/agent_api/lambda_contract.py).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

_TRUE: Final = "true"
_FALSE: Final = "false"


@dataclass(frozen=True)
class Problem:
    """Why a value is wrong, and where: ``path`` is ``""`` for the value itself, ``"[1].url"`` inside it.

    Synth names it after the `cdk.json` key (``agent.mcp_servers[1].url: ...``), the app after its variable
    (``AGENT_MCP_SERVERS[1].url: ...``).
    """

    path: str
    text: str


class InvalidValue(ValueError):
    """A variable's text is not a value of its kind; ``problems`` say why (without the variable's name)."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(f"{p.path}: {p.text}" if p.path else p.text for p in problems))
        self.problems = problems


def _plain(number: float) -> str:
    return str(number) if isinstance(number, int) else f"{number:g}"


def _is_number(value: Any) -> bool:
    # JSON has one number type; bool is an int subclass in Python but never a number in cdk.json.
    return isinstance(value, int | float) and not isinstance(value, bool)


class Kind(ABC):
    """A kind of value: its `cdk.json` form, its environment text and the value the app reads from it."""

    @property
    @abstractmethod
    def allowed(self) -> str:
        """What a value may be, in words: synth's ``allowed: ...`` and the docs' table say it."""

    @abstractmethod
    def check(self, value: Any) -> list[Problem]:
        """Return the problems of a `cdk.json` value (none: synth accepts it)."""

    @abstractmethod
    def encode(self, value: Any) -> str:
        """Return the variable's text for a `cdk.json` value that :meth:`check` accepts."""

    @abstractmethod
    def read(self, text: str) -> Any:
        """Return the value of a variable's text, or raise :class:`InvalidValue` saying why it has none."""


class _Scalar(Kind):
    """A kind with one JSON type in `cdk.json`, checked first, then whether the value is allowed."""

    @property
    @abstractmethod
    def expected(self) -> str:
        """The `cdk.json` type, in words, for synth's ``expected ...`` (``"an integer"``)."""

    @abstractmethod
    def has_type(self, value: Any) -> bool:
        """Whether a `cdk.json` value has this kind's JSON type."""

    @abstractmethod
    def allows(self, value: Any) -> bool:
        """Whether a `cdk.json` value of the right type is allowed."""

    def check(self, value: Any) -> list[Problem]:
        if not self.has_type(value):
            return [Problem("", f"got {value!r}; expected {self.expected}")]
        if not self.allows(value):
            return [Problem("", f"got {value!r}; allowed: {self.allowed}")]
        return []


class _Str(_Scalar):
    """A kind whose `cdk.json` value and variable are the same string."""

    @property
    def expected(self) -> str:
        return "a string"

    def has_type(self, value: Any) -> bool:
        return isinstance(value, str)

    def encode(self, value: Any) -> str:
        return str(value)


@dataclass(frozen=True)
class Text(_Str):
    """A string matching ``pattern`` whole (and at most ``max_chars`` long): ``what`` it is, in words."""

    pattern: re.Pattern[str]
    what: str
    max_chars: int | None = None

    @property
    def allowed(self) -> str:
        return self.what

    def allows(self, value: Any) -> bool:
        fits = self.max_chars is None or len(value) <= self.max_chars
        return fits and self.pattern.fullmatch(value) is not None

    def read(self, text: str) -> str:
        if not self.allows(text):
            raise InvalidValue(Problem("", f"{text!r} is not {self.what}"))
        return text


@dataclass(frozen=True)
class Prose(_Str):
    """Free text that is not blank, such as a prompt."""

    @property
    def allowed(self) -> str:
        return "a non-blank string"

    def allows(self, value: Any) -> bool:
        return bool(value.strip())

    def read(self, text: str) -> str:
        if not self.allows(text):
            raise InvalidValue(Problem("", "must not be blank (unset it for the default)"))
        return text


@dataclass(frozen=True)
class Choice(_Str):
    """One of ``options``."""

    options: tuple[str, ...]

    @property
    def allowed(self) -> str:
        return f"one of {', '.join(self.options)}"

    def allows(self, value: Any) -> bool:
        return value in self.options

    def read(self, text: str) -> str:
        if text not in self.options:
            raise InvalidValue(Problem("", f"{text!r} is not {self.allowed}"))
        return text


def split_names(text: str) -> tuple[str, ...]:
    """Return the names of a comma-separated list, trimmed, without empty entries or repeats."""
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


@dataclass(frozen=True)
class NameList(_Str):
    """A comma-separated list of some of ``names`` (each a ``noun``), ``""`` for none; read as a tuple."""

    names: tuple[str, ...]
    noun: str

    @property
    def allowed(self) -> str:
        return f"comma-separated names of {', '.join(self.names)}, or '' for none"

    def unknown(self, text: str) -> list[str]:
        """Return the names of ``text`` that are not among ``names``."""
        return [name for name in split_names(text) if name not in self.names]

    def allows(self, value: Any) -> bool:
        return not self.unknown(value)

    def encode(self, value: Any) -> str:
        return ",".join(split_names(value))

    def read(self, text: str) -> tuple[str, ...]:
        unknown = self.unknown(text)
        if unknown:
            listed = ", ".join(map(repr, unknown))
            raise InvalidValue(
                Problem("", f"unknown {self.noun}(s) {listed} (available: {', '.join(self.names)})")
            )
        return split_names(text)


@dataclass(frozen=True)
class Boolean(_Scalar):
    """``true`` or ``false``: a JSON boolean in `cdk.json`, the word in the variable."""

    @property
    def allowed(self) -> str:
        return f"{_TRUE} or {_FALSE}"

    @property
    def expected(self) -> str:
        return self.allowed

    def has_type(self, value: Any) -> bool:
        return isinstance(value, bool)

    def allows(self, value: Any) -> bool:
        return True

    def encode(self, value: Any) -> str:
        return _TRUE if value else _FALSE

    def read(self, text: str) -> bool:
        if text not in (_TRUE, _FALSE):
            raise InvalidValue(Problem("", f"{text!r} is not one of {_TRUE}, {_FALSE}"))
        return text == _TRUE


@dataclass(frozen=True)
class Integer(_Scalar):
    """A whole number from ``low`` to ``high``."""

    low: int
    high: int

    @property
    def range(self) -> str:
        """The bounds as people write them, e.g. ``1..1000000``."""
        return f"{self.low}..{self.high}"

    @property
    def allowed(self) -> str:
        return self.range

    @property
    def expected(self) -> str:
        return "an integer"

    def has_type(self, value: Any) -> bool:
        return _is_number(value) and isinstance(value, int)

    def allows(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds."""
        return self.low <= value <= self.high

    def encode(self, value: Any) -> str:
        return str(value)

    def read(self, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise InvalidValue(Problem("", f"{text!r} is not an integer")) from None
        if not self.allows(value):
            raise InvalidValue(Problem("", f"{value} is outside {self.range}"))
        return value


@dataclass(frozen=True)
class Number(_Scalar):
    """A number from ``low`` to ``high`` (never NaN or infinite: the bounds are finite)."""

    low: float
    high: float

    @property
    def range(self) -> str:
        """The bounds as people write them, e.g. ``0..2``."""
        return f"{_plain(self.low)}..{_plain(self.high)}"

    @property
    def allowed(self) -> str:
        return self.range

    @property
    def expected(self) -> str:
        return "a number"

    def has_type(self, value: Any) -> bool:
        return _is_number(value)

    def allows(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds."""
        # Comparing, not math.isfinite: an integer too large for a float must be refused, not raise.
        return self.low <= value <= self.high

    def encode(self, value: Any) -> str:
        return str(value)

    def read(self, text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise InvalidValue(Problem("", f"{text!r} is not a number")) from None
        if not self.allows(value):
            raise InvalidValue(Problem("", f"{text.strip()} is outside {self.range}"))
        return value


#: Checks a JSON value and returns its problems, each with its path inside the value (``[1].url``).
Validator = Callable[[Any], list[Problem]]


@dataclass(frozen=True)
class Json(Kind):
    """A JSON value (a list or object in `cdk.json`, its JSON text in the variable) that ``validate`` checks.

    ``validate`` is a function of the contract, so synth and the app run the very same check; ``shape`` says
    in words what it accepts. ``convert``, if given, turns the checked JSON into the value the app reads
    (typed, such as a tuple of dataclasses); without it the app reads the plain JSON.
    """

    validate: Validator
    shape: str
    convert: Callable[[Any], Any] | None = None

    @property
    def allowed(self) -> str:
        return self.shape

    def check(self, value: Any) -> list[Problem]:
        return self.validate(value)

    def encode(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    def read(self, text: str) -> Any:
        try:
            value = json.loads(text)
        except ValueError as error:
            raise InvalidValue(Problem("", f"is not JSON ({error})")) from None
        problems = self.validate(value)
        if problems:
            raise InvalidValue(*problems)
        return value if self.convert is None else self.convert(value)


@dataclass(frozen=True, eq=False)
class Setting:
    """One setting of the agent API: a row of the settings table (compared, and hashed, by identity).

    ``key`` is its `cdk.json` key (``"agent.max_tokens"``); a setting without one is set by the stack, as
    ``source`` says. ``default`` is in `cdk.json`'s form; None means unset: the setting is then optional
    (unset or empty, the app reads None) unless ``required``. ``fallback`` is a variable read when this one
    is unset or empty. ``default_text`` replaces a default too long for the docs' table.
    """

    variable: str
    kind: Kind
    description: str
    default: Any = None
    key: str | None = None
    source: str | None = None
    required: bool = False
    fallback: str | None = None
    default_text: str | None = None

    def __post_init__(self) -> None:
        if (self.key is None) == (self.source is None):
            raise ValueError(f"{self.variable}: give either its cdk.json key or how the stack sets it")
        if self.default is not None and self.kind.check(self.default):
            raise ValueError(f"{self.variable}: the default {self.default!r} is not {self.kind.allowed}")
        if self.required and self.default is not None:
            raise ValueError(f"{self.variable}: a required setting has no default")

    @property
    def name(self) -> str:
        """The `Settings` field of the setting: its variable, lower-case, without the prefix."""
        return self.variable.split("_", 1)[1].lower()

    @property
    def optional(self) -> bool:
        """Whether the setting may be unset (the app then reads None)."""
        return self.default is None and not self.required

    @property
    def start_value(self) -> Any:
        """The value the app reads when the variable is unset: the default, encoded and read back."""
        return None if self.default is None else self.kind.read(self.kind.encode(self.default))


def read_settings(
    settings: Sequence[Setting], environ: Mapping[str, str], prefix: str
) -> tuple[dict[str, Any], list[str]]:
    """Read every setting from ``environ``: its values by name, and one line per problem, naming its variable.

    A ``prefix`` variable that is no setting's is a problem (listed first), so a typo fails at start instead
    of being ignored. A setting whose variable is invalid has no value in the result.
    """
    known = sorted(s.variable for s in settings if s.variable.startswith(prefix))
    errors = [
        f"{name}: unknown variable (known: {', '.join(known)})"
        for name in sorted(environ)
        if name.startswith(prefix) and name not in known
    ]
    values: dict[str, Any] = {}
    for setting in settings:
        variable, text = setting.variable, environ.get(setting.variable)
        if setting.optional and text == "":
            text = None
        if text is None and setting.fallback is not None:
            variable, text = setting.fallback, environ.get(setting.fallback) or None
        if text is None:
            if setting.required:
                errors.append(f"{setting.variable}: required ({setting.kind.allowed})")
            else:
                values[setting.name] = setting.start_value
            continue
        try:
            values[setting.name] = setting.kind.read(text)
        except InvalidValue as invalid:
            errors.extend(f"{variable}{p.path}: {p.text}" for p in invalid.problems)
    return values, errors


def environment(settings: Sequence[Setting], values: Mapping[Setting, Any]) -> dict[str, str]:
    """Return every setting's variable and text, in table order; None (optional settings only) is ``""``.

    ``values`` holds `cdk.json`-form values for every setting of the table, so that a new setting nobody sets
    fails here instead of reaching the function unset.
    """
    missing = [s.variable for s in settings if s not in values]
    stray = [s.variable for s in values if s not in settings]
    if missing or stray:
        raise ValueError(f"settings without a value: {missing}; values of no setting: {stray}")
    encoded: dict[str, str] = {}
    for setting in settings:
        value = values[setting]
        if value is None and not setting.optional:
            raise ValueError(f"{setting.variable}: only an optional setting may be None")
        encoded[setting.variable] = "" if value is None else setting.kind.encode(value)
    return encoded
