from __future__ import annotations

from datetime import datetime

import pytest

from agent_api.tools import calculator, current_time, evaluate_arithmetic, format_number, get_weather


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2", 3),
        ("(2 + 3) * 4.5", 22.5),
        ("2 ** 10", 1024),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("1 / 4", 0.25),
        ("+-3", -3),
    ],
)
def test_evaluates_arithmetic(expression: str, expected: float) -> None:
    assert evaluate_arithmetic(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('id')", "unsupported element 'Call'"),
        ("x + 1", "unsupported element 'Name'"),
        ("(1).real", "unsupported element 'Attribute'"),
        ("'a' * 3", "unsupported element 'Constant'"),
        ("True + 1", "unsupported element 'Constant'"),
        ("1 +", "not an arithmetic expression"),
        ("1 / 0", "division by zero"),
        ("9 ** 9 ** 9", "exponent"),
        ("(10 ** 999) ** 2 * 10 ** 999", "result is too large"),
        ("10.0 ** 400", "result is too large"),
        ("(-8) ** 0.5", "not a real number"),
        ("1" * 201, "longer than 200"),
    ],
)
def test_rejects_anything_but_bounded_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_arithmetic(expression)


def test_whole_float_results_print_as_integers() -> None:
    assert format_number(6.0) == "6"
    assert format_number(0.5) == "0.5"


def test_calculator_tool_returns_text() -> None:
    assert calculator(expression="6 * 7") == "42"


def test_current_time_is_in_the_requested_zone() -> None:
    stamp = datetime.fromisoformat(current_time(timezone="Asia/Kolkata"))
    assert stamp.utcoffset() is not None
    assert stamp.utcoffset().total_seconds() == 5.5 * 3600


def test_current_time_rejects_unknown_zones() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        current_time(timezone="Mars/Olympus")


def test_current_time_rejects_path_like_zones() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        current_time(timezone="../../etc/passwd")


def test_get_weather_returns_labelled_demo_data() -> None:
    assert get_weather(city=" Paris ") == "Paris: sunny, 21 °C (demo data)"


def test_get_weather_rejects_an_empty_city() -> None:
    with pytest.raises(ValueError, match="city must be a non-empty name"):
        get_weather(city="  ")
