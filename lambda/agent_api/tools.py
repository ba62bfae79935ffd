"""The agent's built-in tools: small, side-effect free, and safe to run on untrusted model output.

Each module-level `@tool` function is one, enabled by its name in `AGENT_TOOLS` (agent_api.tool_catalog
finds them in this file's source; the team's own tools live in lambda/team_tools/).

Each raises `ValueError` with a plain message on bad input; Strands turns that into an error tool result
that the model can read and correct.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from strands import tool

MAX_EXPRESSION_CHARS = 200
# Bounds that keep one expression cheap: no 9**9**9 or 10**100000-digit integers.
MAX_EXPONENT = 1000
MAX_INT_BITS = 4096

_Number = int | float
_BINARY: dict[type[ast.operator], Callable[[_Number, _Number], _Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[_Number], _Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


@tool
def current_time(timezone: str = "UTC") -> str:
    """Return the current date and time in an IANA time zone, in ISO 8601 format.

    Args:
        timezone: IANA time zone name such as "UTC", "Europe/Paris" or "America/New_York".

    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}; use an IANA name such as 'Europe/Paris'") from exc
    return datetime.now(UTC).astimezone(zone).isoformat(timespec="seconds")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression and return the result.

    Supports numbers, parentheses, + - * / // % and ** (power). No variables or functions.

    Args:
        expression: The expression, for example "(2 + 3) * 4.5" or "2 ** 10".

    """
    return format_number(evaluate_arithmetic(expression))


def evaluate_arithmetic(expression: str) -> _Number:
    """Evaluate `expression` by walking its syntax tree; only numeric literals and arithmetic are allowed.

    Raises:
        ValueError: for anything else (names, calls, attributes, too long, too large, division by zero).

    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from exc
    return _evaluate(tree.body)


def format_number(value: _Number) -> str:
    """Render a result without float noise for whole numbers (6.0 → "6")."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _evaluate(node: ast.expr) -> _Number:
    # `type() in` rather than isinstance: bool is an int subclass and must be rejected.
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return cast(_Number, node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ValueError(f"exponent {right} is larger than {MAX_EXPONENT}")
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError as exc:
            raise ValueError("division by zero") from exc
        except OverflowError as exc:
            raise ValueError("result is too large") from exc
        if isinstance(result, complex):
            raise ValueError("result is not a real number")
        if (isinstance(result, int) and result.bit_length() > MAX_INT_BITS) or (
            isinstance(result, float) and not math.isfinite(result)
        ):
            raise ValueError("result is too large")
        return result
    raise ValueError(f"unsupported element {type(node).__name__!r}: only numbers and + - * / // % ** ( )")


@tool
def get_weather(city: str) -> str:
    """Return demo weather for a city (fixed data, no network): the tool the local tiny model calls.

    Opt-in only (`AGENT_TOOLS=...,get_weather`): it lets the local stack and its tests exercise a full
    tool round trip with the deterministic tiny model, and is not meant for a deployed agent.

    Args:
        city: City name, such as "Paris".

    """
    name = city.strip()
    if not name or len(name) > 100:
        raise ValueError("city must be a non-empty name of at most 100 characters")
    return f"{name}: sunny, 21 °C (demo data)"
