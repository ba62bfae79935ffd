"""The settings table (lambda/agent_api/contract.py) is the one declaration of each agent setting.

Synth's schema declares each keyed row once, with the row's default and rule; the docs' table is generated
from it; cdk.json holds only what an environment sets differently from a default.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import pytest

from stacks.agent_api import settings_docs
from stacks.agent_api.lambda_contract import contract, setting_kinds
from stacks.config import ConfigError, EnvironmentConfig, table_values
from stacks.config.parse import SECTIONS, parse_fields
from stacks.config.schema import table_setting
from tests.infra.infra_support import ROOT, cdk_context

pytestmark = pytest.mark.infra

KEYED = [setting for setting in contract.SETTINGS if setting.key is not None]


def section_classes() -> dict[str, type[Any]]:
    """Each cdk.json section's name and schema class."""
    return {name: cls for name, (_, cls) in SECTIONS.items()}


def table_fields() -> dict[str, dataclasses.Field[Any]]:
    """Every schema field declared with ``table_setting``, by its cdk.json key."""
    return {
        f"{section}.{field.name}": field
        for section, cls in section_classes().items()
        for field in dataclasses.fields(cls)
        if "setting" in field.metadata
    }


def test_each_keyed_row_is_declared_once_as_the_key_it_names() -> None:
    fields = table_fields()
    assert {key: field.metadata["setting"] for key, field in fields.items()} == {
        setting.key: setting for setting in KEYED
    }


def test_each_keyed_row_has_the_type_of_its_schema_field() -> None:
    for key, field in table_fields().items():
        section = section_classes()[key.split(".", 1)[0]]
        annotation = typing.get_type_hints(section)[field.name]
        setting = field.metadata["setting"]
        # JSON's number may be written without a fraction: 1 is a temperature as well as 1.0.
        accepted = (int, float) if annotation is float else annotation
        # isinstance takes no parameterized generic (a JSON setting's Mapping[str, Any], a list's
        # Sequence[...]): check its origin, and each option of an optional one (str | None).
        options = typing.get_args(accepted) if isinstance(accepted, types.UnionType) else (accepted,)
        plain = tuple(typing.get_origin(option) or option for option in options)
        assert isinstance(setting.default, plain), (key, annotation, setting.default)


def test_each_row_is_named_after_its_variable() -> None:
    for setting in contract.SETTINGS:
        assert getattr(contract, setting.variable) is setting
        assert setting.key is None or setting.key.endswith(f".{setting.name}")
    assert len({setting.variable for setting in contract.SETTINGS}) == len(contract.SETTINGS)


def test_the_docs_table_is_the_generated_one() -> None:
    document = settings_docs.DOCS.read_text(encoding="utf-8")
    assert settings_docs.with_table(document) == document, (
        "docs/agent-api.md's settings table is stale: run .venv/bin/python -m stacks.agent_api.settings_docs"
    )


def test_the_docs_table_has_a_row_per_setting_with_its_default() -> None:
    table = settings_docs.markdown_table()
    rows = table.splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{s.variable}`" for s in contract.SETTINGS]
    assert (
        "| cdk.json `agent.max_tokens` | default and cap of per-request `max_tokens` | 1..1000000 | `1024` |"
        in (table)
    )
    assert "| `AGENT_ENDPOINT_NAME` | the stack: its endpoint |" in table
    assert table.count("| required |") == 1


def test_the_deploy_docs_name_every_key_of_the_agent_section() -> None:
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    row = next(line for line in deploy.splitlines() if line.startswith("| `agent` |"))
    named = set(re.findall(r"`([a-z_]+)`", row)) - {"agent"}
    assert named == {field.name for field in dataclasses.fields(section_classes()["agent"])}


# --- cdk.json: only what differs from a default ----------------------------------------------------------
def keys_at_their_default(raw: dict[str, Any]) -> list[str]:
    """The keys of one cdk.json environment whose value is the default (a default change would skip them)."""
    found = []
    top_level = {f.name: f.default for f in dataclasses.fields(EnvironmentConfig)}
    for key, value in raw.items():
        if key in SECTIONS:
            defaults = {f.name: _default(f) for f in dataclasses.fields(SECTIONS[key][1])}
            found += [f"{key}.{name}" for name, item in value.items() if _same(item, defaults[name])]
        elif _same(value, top_level[key]):
            found.append(key)
    return found


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _same(value: Any, default: Any) -> bool:
    # bool is an int in Python but never a number in JSON: true is not 1 (while 10 is the rate limit 10.0).
    return isinstance(value, bool) == isinstance(default, bool) and value == default


@pytest.mark.parametrize("environment", sorted(cdk_context()["environments"]))
def test_cdk_json_holds_only_what_differs_from_the_defaults(environment: str) -> None:
    raw = cdk_context()["environments"][environment]
    assert keys_at_their_default(raw) == [], "remove these keys: their defaults apply"


def test_a_key_at_its_default_is_found_in_every_section_and_at_the_top() -> None:
    raw = {
        "retain_data": False,
        "model": {"hf_model_id": "org/model", "engine": "sglang"},
        "agent": {
            "max_tokens": 1024,
            "temperature": 0.2,
            "tools": "current_time,calculator",
            "log_level": "DEBUG",
        },
        "api": {"rate_limit": 10, "burst_limit": 20.5},
        "monitoring": {"alarm_email": None},
    }
    assert keys_at_their_default(raw) == [
        "retain_data",
        "model.engine",
        "agent.max_tokens",
        "agent.temperature",
        "agent.tools",
        "api.rate_limit",
        "monitoring.alarm_email",
    ]
    assert keys_at_their_default({"agent": {"stream_reasoning": 1}, "api": {"burst_limit": 21}}) == []


# --- A JSON setting: one validator of the contract, run at synth and at start ----------------------------
def servers_problems(value: Any) -> list[setting_kinds.Problem]:
    """A validator like a contract's: a list of objects, each with an https URL."""
    if not isinstance(value, list):
        return [setting_kinds.Problem("", f"got {value!r}; expected a list of servers")]
    problems = []
    for index, server in enumerate(value):
        url = server.get("url") if isinstance(server, dict) else None
        if not (isinstance(url, str) and url.startswith("https://")):
            problems.append(setting_kinds.Problem(f"[{index}].url", f"got {url!r}; expected an https:// URL"))
    return problems


SERVERS = setting_kinds.Setting(
    "AGENT_SERVERS",
    setting_kinds.Json(servers_problems, "a list of {url}"),
    "servers",
    default=[],
    key="extra.servers",
)


@dataclass(frozen=True)
class ExtraSettings:
    servers: list[Any] = table_setting(SERVERS)  # noqa: RUF009 (a list default gets a default_factory)


def test_synth_names_the_place_inside_a_json_setting() -> None:
    raw = {"servers": [{"url": "https://a.example"}, {"url": "ftp://b.example"}]}
    with pytest.raises(ConfigError) as caught:
        parse_fields("dev", "extra.", raw, ExtraSettings)
    assert str(caught.value) == (
        "cdk.json environment 'dev': extra.servers[1].url: got 'ftp://b.example'; expected an https:// URL"
    )
    with pytest.raises(ConfigError, match=r"extra\.servers: got \{\}; expected a list of servers"):
        parse_fields("dev", "extra.", {"servers": {}}, ExtraSettings)


def test_a_json_setting_passes_synth_and_start_with_the_same_value() -> None:
    servers = [{"url": "https://a.example"}, {"url": "https://b.example"}]
    section = parse_fields("dev", "extra.", {"servers": servers}, ExtraSettings)
    variables = setting_kinds.environment([SERVERS], table_values(section))
    values, errors = setting_kinds.read_settings([SERVERS], variables, "AGENT_")
    assert (values, errors) == ({"servers": servers}, [])


def test_each_environment_gets_its_own_copy_of_a_list_default() -> None:
    assert ExtraSettings().servers == [] and ExtraSettings().servers is not ExtraSettings().servers
