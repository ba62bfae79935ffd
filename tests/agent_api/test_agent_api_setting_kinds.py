"""agent_api.setting_kinds: each kind checks a cdk.json value, encodes it, and reads the variable back."""

from __future__ import annotations

import re
from typing import Any

import pytest

from agent_api.setting_kinds import (
    Boolean,
    Choice,
    Integer,
    InvalidValue,
    Json,
    Kind,
    NameList,
    Number,
    Problem,
    Prose,
    Setting,
    Text,
    environment,
    read_settings,
)

WORD = Text(re.compile(r"[a-z]+"), "a lower-case word", max_chars=5)
TOOLS = NameList(("clock", "calc"), "tool")


def urls_problems(value: Any) -> list[Problem]:
    """A validator as the contract would hold one: a list of https URLs."""
    if not isinstance(value, list):
        return [Problem("", f"got {value!r}; expected a list of URLs")]
    return [
        Problem(f"[{index}]", f"got {url!r}; expected an https:// URL")
        for index, url in enumerate(value)
        if not (isinstance(url, str) and url.startswith("https://"))
    ]


URLS = Json(urls_problems, "a list of https:// URLs")


# kind, a cdk.json value it accepts, its variable text, the value the app reads
ROUND_TRIPS: list[tuple[Kind, Any, str, Any]] = [
    (WORD, "abc", "abc", "abc"),
    (Prose(), "Be brief.", "Be brief.", "Be brief."),
    (Choice(("a", "b")), "b", "b", "b"),
    (TOOLS, " calc, clock,calc ", "calc,clock", ("calc", "clock")),
    (TOOLS, "", "", ()),
    (Boolean(), False, "false", False),
    (Integer(1, 10), 10, "10", 10),
    (Number(0.0, 2.0), 1, "1", 1.0),
    (Number(0.0, 2.0), 0.25, "0.25", 0.25),
    (URLS, ["https://a", "https://b"], '["https://a","https://b"]', ["https://a", "https://b"]),
]


@pytest.mark.parametrize(("kind", "value", "text", "read"), ROUND_TRIPS)
def test_an_accepted_value_is_written_and_read_back(kind: Kind, value: Any, text: str, read: Any) -> None:
    assert kind.check(value) == []
    assert kind.encode(value) == text
    assert kind.read(text) == read


# kind, a cdk.json value, synth's problem
SYNTH_PROBLEMS: list[tuple[Kind, Any, Problem]] = [
    (WORD, 7, Problem("", "got 7; expected a string")),
    (WORD, "Abc", Problem("", "got 'Abc'; allowed: a lower-case word")),
    (WORD, "abcdef", Problem("", "got 'abcdef'; allowed: a lower-case word")),
    (Prose(), " \n", Problem("", "got ' \\n'; allowed: a non-blank string")),
    (Choice(("a", "b")), "c", Problem("", "got 'c'; allowed: one of a, b")),
    (
        TOOLS,
        "calc,shell",
        Problem("", "got 'calc,shell'; allowed: comma-separated names of clock, calc, or '' for none"),
    ),
    (Boolean(), "true", Problem("", "got 'true'; expected true or false")),
    (Integer(1, 10), True, Problem("", "got True; expected an integer")),
    (Integer(1, 10), 2.0, Problem("", "got 2.0; expected an integer")),
    (Integer(1, 10), 11, Problem("", "got 11; allowed: 1..10")),
    (Number(0.0, 2.0), False, Problem("", "got False; expected a number")),
    (Number(0.0, 2.0), 10**400, Problem("", f"got {10**400!r}; allowed: 0..2")),
    (URLS, ["https://a", "http://b"], Problem("[1]", "got 'http://b'; expected an https:// URL")),
    (URLS, "https://a", Problem("", "got 'https://a'; expected a list of URLs")),
]


@pytest.mark.parametrize(("kind", "value", "problem"), SYNTH_PROBLEMS)
def test_synth_says_what_is_wrong_with_a_value(kind: Kind, value: Any, problem: Problem) -> None:
    assert kind.check(value) == [problem]


# kind, a variable's text, the app's problem
START_PROBLEMS: list[tuple[Kind, str, str]] = [
    (WORD, "Abc", "'Abc' is not a lower-case word"),
    (Prose(), "", "must not be blank (unset it for the default)"),
    (Choice(("a", "b")), "A", "'A' is not one of a, b"),
    (TOOLS, "calc,shell,sh", "unknown tool(s) 'shell', 'sh' (available: clock, calc)"),
    (Boolean(), "True", "'True' is not one of true, false"),
    (Integer(1, 10), "1.0", "'1.0' is not an integer"),
    (Integer(1, 10), " 0 ", "0 is outside 1..10"),
    (Number(0.0, 2.0), "warm", "'warm' is not a number"),
    (Number(0.0, 2.0), "inf", "inf is outside 0..2"),
    (URLS, "[https://a]", "is not JSON (Expecting value: line 1 column 2 (char 1))"),
    (URLS, '["http://a"]', "[0]: got 'http://a'; expected an https:// URL"),
]


@pytest.mark.parametrize(("kind", "text", "message"), START_PROBLEMS)
def test_the_app_says_what_is_wrong_with_a_variable(kind: Kind, text: str, message: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        kind.read(text)
    assert str(caught.value) == message


def test_numbers_state_their_range_as_people_write_it() -> None:
    assert (Integer(1, 1_000_000).range, Number(0.0, 2.0).range, Number(0.5, 1.5).range) == (
        "1..1000000",
        "0..2",
        "0.5..1.5",
    )


NAME = Setting("APP_NAME", WORD, "a name", default="abc", key="app.name")
COLOR = Setting("APP_COLOR", WORD, "a color", source="the stack")
REGION = Setting("APP_REGION", WORD, "a region", source="the stack", fallback="CLOUD_REGION")
ENDPOINT = Setting("APP_ENDPOINT", WORD, "an endpoint", source="the stack", required=True)
LIMIT = Setting("APP_LIMIT", Integer(1, 10), "a limit", default=5, key="app.limit")
URLS_SETTING = Setting("APP_URLS", URLS, "some URLs", default=[], key="app.urls")
TABLE = (NAME, COLOR, REGION, ENDPOINT, LIMIT, URLS_SETTING)


def read(**environ: str) -> tuple[dict[str, Any], list[str]]:
    return read_settings(TABLE, {"APP_ENDPOINT": "end", **environ}, "APP_")


def test_unset_settings_read_as_their_default_or_none() -> None:
    assert read() == (
        {"name": "abc", "color": None, "region": None, "endpoint": "end", "limit": 5, "urls": []},
        [],
    )


def test_an_empty_optional_setting_is_unset_and_an_empty_default_one_is_a_value() -> None:
    values, errors = read(APP_COLOR="", APP_NAME="")
    assert values["color"] is None
    assert errors == ["APP_NAME: '' is not a lower-case word"]


def test_a_fallback_variable_is_read_and_named_when_the_setting_is_unset() -> None:
    assert read(CLOUD_REGION="west")[0]["region"] == "west"
    assert read(APP_REGION="", CLOUD_REGION="west")[0]["region"] == "west"
    assert read(APP_REGION="east", CLOUD_REGION="west")[0]["region"] == "east"
    assert read(CLOUD_REGION="West")[1] == ["CLOUD_REGION: 'West' is not a lower-case word"]


def test_every_problem_is_named_unknown_variables_first_and_invalid_values_are_left_out() -> None:
    values, errors = read_settings(
        TABLE, {"APP_LIMT": "3", "APP_LIMIT": "30", "APP_URLS": '["ftp://x"]'}, "APP_"
    )
    assert errors == [
        "APP_LIMT: unknown variable "
        "(known: APP_COLOR, APP_ENDPOINT, APP_LIMIT, APP_NAME, APP_REGION, APP_URLS)",
        "APP_ENDPOINT: required (a lower-case word)",
        "APP_LIMIT: 30 is outside 1..10",
        "APP_URLS[0]: got 'ftp://x'; expected an https:// URL",
    ]
    assert set(values) == {"name", "color", "region"}


def test_the_environment_holds_every_setting_in_table_order() -> None:
    values = {
        NAME: "xyz",
        COLOR: None,
        REGION: "west",
        ENDPOINT: "end",
        LIMIT: 7,
        URLS_SETTING: ["https://a"],
    }
    assert environment(TABLE, values) == {
        "APP_NAME": "xyz",
        "APP_COLOR": "",
        "APP_REGION": "west",
        "APP_ENDPOINT": "end",
        "APP_LIMIT": "7",
        "APP_URLS": '["https://a"]',
    }
    assert list(environment(TABLE, values)) == [setting.variable for setting in TABLE]


def test_the_environment_refuses_a_missing_or_stray_setting_and_none_for_a_required_one() -> None:
    values: dict[Setting, Any] = {NAME: "xyz", COLOR: None, REGION: None, ENDPOINT: "end", LIMIT: 7}
    with pytest.raises(ValueError, match=r"without a value: \['APP_URLS'\]"):
        environment(TABLE, values)
    with pytest.raises(ValueError, match=r"values of no setting: \['APP_OTHER'\]"):
        environment(TABLE, {**values, URLS_SETTING: [], Setting("APP_OTHER", WORD, "?", source="x"): "a"})
    with pytest.raises(ValueError, match="APP_ENDPOINT: only an optional setting may be None"):
        environment(TABLE, {**values, URLS_SETTING: [], ENDPOINT: None})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"key": "app.x", "source": "the stack"}, "give either its cdk.json key or how the stack sets it"),
        ({}, "give either its cdk.json key or how the stack sets it"),
        ({"key": "app.x", "default": "ABC"}, "the default 'ABC' is not a lower-case word"),
        ({"source": "the stack", "default": "abc", "required": True}, "a required setting has no default"),
    ],
)
def test_a_row_that_contradicts_itself_is_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Setting("APP_X", WORD, "x", **arguments)


def test_a_setting_is_named_after_its_variable_without_the_prefix() -> None:
    assert (NAME.name, Setting("POWERTOOLS_LOG_LEVEL", WORD, "?", source="x").name) == ("name", "log_level")
