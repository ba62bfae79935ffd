"""The agent's Python tools: found in their source by name (agent_api.tool_catalog), loaded by name
(agent_api.python_tools), the team's own folder included; and the example team tool, `convert_units`."""

from __future__ import annotations

import re
import shutil
import textwrap
import uuid
from pathlib import Path

import pytest

from agent_api import agent_factory, contract
from agent_api.app import create_app
from agent_api.python_tools import ToolLoadError, load_tools
from agent_api.settings import Settings, SettingsError
from agent_api.tool_catalog import ToolCatalog, discover
from team_tools.units import convert_units

LAMBDA = Path(contract.__file__).resolve().parents[1]
# A team module needing a package the lock does not have.
NEEDY = (
    "import not_installed_anywhere\nfrom strands import tool\n\n@tool\ndef needy() -> str:\n    return ''\n"
)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A Lambda root with the real built-ins and an empty team package of a name no other test uses."""
    (tmp_path / "agent_api").mkdir()
    shutil.copy(LAMBDA / "agent_api" / "tools.py", tmp_path / "agent_api" / "tools.py")
    package = f"team_tools_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path, package


def write(tree: tuple[Path, str], module: str, source: str) -> None:
    root, package = tree
    (root / package / f"{module}.py").write_text(textwrap.dedent(source))


def test_tools_are_found_by_their_decorator_and_named_as_strands_names_them(tree: tuple[Path, str]) -> None:
    write(
        tree,
        "mine",
        """
        import strands
        from strands import tool

        @tool
        def lookup(key: str) -> str:
            '''Look a key up.'''
            return key

        @tool(name="ticket_status")
        async def status(ticket: str) -> str:
            '''A ticket's status.'''
            return "open"

        @strands.tool()
        def ping() -> str:
            '''Ping.'''
            return "pong"

        def helper() -> None:
            @tool
            def nested() -> str:
                return ""
        """,
    )
    catalog = discover(*tree)
    assert catalog.problems == ()
    assert catalog.names == ("current_time", "calculator", "get_weather", "lookup", "ticket_status", "ping")
    entry = catalog.tools["ticket_status"]
    assert (entry.module, entry.path, entry.line, entry.built_in) == (
        f"{tree[1]}.mine",
        f"{tree[1]}/mine.py",
        10,
        False,
    )
    assert catalog.tools["calculator"].built_in


def test_what_synth_cannot_read_is_a_problem_naming_the_file_and_line(tree: tuple[Path, str]) -> None:
    write(
        tree,
        "bad",
        """
        from strands import tool
        NAME = "dynamic"

        @tool(name=NAME)
        def a() -> str:
            return ""

        @tool(name="has space")
        def b() -> str:
            return ""

        @tool
        def calculator() -> str:
            return ""
        """,
    )
    write(tree, "broken", "def (:\n")
    package = tree[1]
    built_in = discover(*tree).tools["calculator"].line
    assert discover(*tree).problems == (
        f"{package}/bad.py:5: @tool(name=...) must be a string literal, so synth can read it",
        f"{package}/bad.py:9: tool name 'has space' is not 1-64 of A-Z a-z 0-9 _ -",
        f"{package}/bad.py:13: tool name 'calculator' is also agent_api/tools.py:{built_in}'s",
        f"{package}/broken.py: cannot be read for its tools (invalid syntax (broken.py, line 1))",
    )


def test_only_the_modules_of_enabled_tools_are_imported(tree: tuple[Path, str]) -> None:
    write(
        tree,
        "fine",
        "from strands import tool\n\n@tool\ndef fine() -> str:\n    '''Fine.'''\n    return 'ok'\n",
    )
    write(
        tree,
        "needs_pkg",
        NEEDY,
    )
    catalog = discover(*tree)

    assert [tool.tool_name for tool in load_tools(["calculator", "fine"], catalog)] == ["calculator", "fine"]
    with pytest.raises(
        ToolLoadError,
        match=r"tool 'needy': importing .*needs_pkg .* failed: ModuleNotFoundError: .*"
        r"not_installed_anywhere.* lambda/requirements\.in, then `make lock`",
    ):
        load_tools(["needy"], catalog)


def test_a_tool_the_source_names_but_the_module_does_not_define_stops_the_load(
    tree: tuple[Path, str],
) -> None:
    write(
        tree,
        "shadowed",
        "from strands import tool\n\n@tool\ndef gone() -> str:\n    return ''\n\ngone = None\n",
    )
    with pytest.raises(
        ToolLoadError, match=r"tool 'gone': .*shadowed\.py:3 decorates it with @tool, but .* defines no tool"
    ):
        load_tools(["gone"], discover(*tree))


def test_the_app_refuses_to_start_with_a_tool_it_cannot_load(
    tree: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tree,
        "needs_pkg",
        NEEDY,
    )
    catalog = discover(*tree)
    monkeypatch.setattr(agent_factory, "TOOL_CATALOG", catalog)
    settings = Settings.from_env({contract.AGENT_ENDPOINT_NAME.variable: "endpoint"})
    with pytest.raises(SettingsError, match=r"AGENT_TOOLS: tool 'needy': importing"):
        create_app(settings.__class__(**{**settings.__dict__, "tools": ("needy",)}))


def test_the_settings_report_a_tool_file_synth_could_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "TOOL_CATALOG", ToolCatalog({}, ("team_tools/x.py: cannot be read",)))
    with pytest.raises(SettingsError, match=r"AGENT_TOOLS: team_tools/x.py: cannot be read"):
        Settings.from_env({contract.AGENT_ENDPOINT_NAME.variable: "endpoint"})


@pytest.mark.parametrize(
    ("value", "source", "target", "answer"),
    [
        (100, "km", "mi", "100 km = 62.1371 mi"),
        (0, "C", "F", "0 C = 32 F"),
        (98.6, "fahrenheit", "celsius", "98.6 fahrenheit = 37 celsius"),
        (1, "GiB", "MB", "1 GiB = 1073.74 MB"),
        (3, "fl oz", "ml", "3 fl oz = 88.7206 ml"),
        (90, "km/h", "m/s", "90 km/h = 25 m/s"),
        (2, "week", "h", "2 week = 336 h"),
    ],
)
def test_convert_units_converts(value: float, source: str, target: str, answer: str) -> None:
    assert convert_units(value, source, target) == answer


@pytest.mark.parametrize(
    ("value", "source", "target", "problem"),
    [
        (1, "kg", "m", "cannot convert mass (kg) to length (m)"),
        (1, "C", "kg", "cannot convert between a temperature and 'kg'"),
        (-300, "C", "K", "-300 C is below absolute zero"),
        (1, "furlong", "m", "unknown unit 'furlong'"),
        (float("inf"), "m", "km", "value must be a finite number"),
        (1e16, "m", "km", "magnitude at most"),
    ],
)
def test_convert_units_says_what_is_wrong(value: float, source: str, target: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        convert_units(value, source, target)


def test_convert_units_is_a_tool_the_model_sees_described() -> None:
    spec = convert_units.tool_spec
    assert spec["name"] == "convert_units"
    assert set(spec["inputSchema"]["json"]["required"]) == {"value", "from_unit", "to_unit"}
    assert "length, mass, volume, speed, time, data size or temperature" in spec["description"]
