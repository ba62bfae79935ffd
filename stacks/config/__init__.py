"""Deployment environments as data: the ``environments`` block of ``cdk.json`` parsed into validated settings.

Each environment is a JSON object of sections (``model``, ``image``, ``endpoint``, ``agent``, ``lambda``,
``api``, ``monitoring``, ``observability``) plus ``account``/``region``/``retain_data``. Every key is optional
and defaults to the value its section declares (``schema``). Anything unknown, mistyped or impossible raises
:class:`ConfigError`, whose message names the environment, the key and what is allowed.

- ``schema``: each section's keys, types, defaults and allowed values;
- ``environment``: :class:`EnvironmentConfig`, one environment, and the names and sizes derived from it;
- ``rules``: the checks involving several keys or several environments;
- ``parse``: reading ``cdk.json`` against the schema, then the rules.
"""

from stacks.config.environment import EnvironmentConfig, instances_for
from stacks.config.parse import ALL_ENVIRONMENTS, DEFAULT_ENVIRONMENT, parse_environment, select_environments
from stacks.config.schema import (
    LOG_RETENTION_DAYS,
    PULL_THROUGH_SECRET_PREFIX,
    AgentSettings,
    ApiSettings,
    ConfigError,
    EndpointSettings,
    ImageSettings,
    LambdaSettings,
    ModelSettings,
    MonitoringSettings,
    ObservabilitySettings,
    split_list,
    table_values,
)

__all__ = [
    "ALL_ENVIRONMENTS",
    "DEFAULT_ENVIRONMENT",
    "LOG_RETENTION_DAYS",
    "PULL_THROUGH_SECRET_PREFIX",
    "AgentSettings",
    "ApiSettings",
    "ConfigError",
    "EndpointSettings",
    "EnvironmentConfig",
    "ImageSettings",
    "LambdaSettings",
    "ModelSettings",
    "MonitoringSettings",
    "ObservabilitySettings",
    "instances_for",
    "parse_environment",
    "select_environments",
    "split_list",
    "table_values",
]
