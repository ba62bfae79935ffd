"""Reading ``cdk.json``'s ``environments`` block: each key checked against the schema, then the rules."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from stacks.agent_api.lambda_contract import setting_kinds
from stacks.config.environment import EnvironmentConfig
from stacks.config.rules import check_cross_field_rules, check_mode_keys, check_shared_account_settings
from stacks.config.schema import (
    AgentSettings,
    ApiSettings,
    ConfigError,
    EndpointSettings,
    ImageSettings,
    LambdaSettings,
    ModelSettings,
    MonitoringSettings,
    ObservabilitySettings,
)
from stacks.config.tool_sources import check_tool_catalog

DEFAULT_ENVIRONMENT = "dev"
ALL_ENVIRONMENTS = "all"
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,31}$")

# Each cdk.json section: its attribute of EnvironmentConfig and its schema.
SECTIONS: dict[str, tuple[str, type[Any]]] = {
    "model": ("model", ModelSettings),
    "image": ("image", ImageSettings),
    "endpoint": ("endpoint", EndpointSettings),
    "agent": ("agent", AgentSettings),
    "lambda": ("lambda_", LambdaSettings),
    "api": ("api", ApiSettings),
    "monitoring": ("monitoring", MonitoringSettings),
    "observability": ("observability", ObservabilitySettings),
}
_T = TypeVar("_T")


def _type_name(annotation: Any) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return " or ".join("null" if option is type(None) else names[option] for option in options)


def _has_type(value: Any, annotation: Any) -> bool:
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for option in options:
        if option is type(None) and value is None:
            return True
        # JSON has one number type; bool is an int subclass in Python but never a number in cdk.json.
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option in (str, bool) and isinstance(value, option):
            return True
    return False


def _check_table_setting(environment: str, key: str, setting: setting_kinds.Setting, value: Any) -> None:
    """Check a key that is a row of the agent API's settings table with the row's own kind."""
    if value is None and setting.optional:
        return
    for problem in setting.kind.check(value):
        raise ConfigError(environment, f"{key}{problem.path}", problem.text)


def parse_fields(environment: str, prefix: str, raw: Mapping[str, Any], cls: type[_T], **extra: Any) -> _T:
    """Build section ``cls`` from ``raw``, checking every key against its declared type and rule.

    ``prefix`` (``"agent."``) starts the key each error names.
    """
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    declared = {f.name: f for f in fields if "allowed" in f.metadata}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in declared:
            known = sorted(declared) if prefix else sorted([*declared, *SECTIONS])
            raise ConfigError(environment, f"{prefix}{key}", f"unknown key; allowed keys: {', '.join(known)}")
        spec = declared[key]
        setting = spec.metadata.get("setting")
        if setting is not None:
            _check_table_setting(environment, f"{prefix}{key}", setting, value)
            values[key] = value
            continue
        if not _has_type(value, hints[key]):
            raise ConfigError(
                environment, f"{prefix}{key}", f"got {value!r}; expected {_type_name(hints[key])}"
            )
        if value is not None and not spec.metadata["check"](value):
            raise ConfigError(
                environment, f"{prefix}{key}", f"got {value!r}; allowed: {spec.metadata['allowed']}"
            )
        values[key] = value
    return cls(**values, **extra)


def parse_environment(name: str, raw: Any) -> EnvironmentConfig:
    """Parse and validate one environment's JSON object from ``cdk.json``."""
    if not _ENV_NAME.match(name):
        raise ConfigError(
            name, "(name)", "environment names are 1-32 letters, digits or '-', starting with a letter"
        )
    if not isinstance(raw, Mapping):
        raise ConfigError(name, "(environment)", f"got {raw!r}; expected a JSON object of settings")
    check_tool_catalog(name)
    sections: dict[str, Any] = {}
    top_level = {k: v for k, v in raw.items() if k not in SECTIONS}
    for key, (attribute, cls) in SECTIONS.items():
        section = raw.get(key, {})
        if not isinstance(section, Mapping):
            raise ConfigError(name, key, f"got {section!r}; expected a JSON object")
        sections[attribute] = parse_fields(name, f"{key}.", section, cls)
    config = parse_fields(name, "", top_level, EnvironmentConfig, name=name, **sections)
    check_mode_keys(config, raw.get("endpoint", {}))
    check_cross_field_rules(config)
    return config


def select_environments(environments: Any, selection: str) -> list[EnvironmentConfig]:
    """Return the environments chosen by ``-c env=NAME`` (``all`` selects every one), each validated."""
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(
            selection, "environments", "cdk.json context needs a non-empty 'environments' object"
        )
    if selection == ALL_ENVIRONMENTS:
        configs = [parse_environment(name, raw) for name, raw in environments.items()]
        check_shared_account_settings(configs)
        return configs
    if selection not in environments:
        allowed = ", ".join([*environments, ALL_ENVIRONMENTS])
        raise ConfigError(selection, "env", f"no such environment in cdk.json; allowed: {allowed}")
    return [parse_environment(selection, environments[selection])]
