"""The app implements what its deployment contract names: its tools, its routes, its documented settings."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route

from agent_api import contract
from agent_api.app import create_app
from agent_api.settings import Settings
from agent_api.tools import TOOLS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "agent-api.md"


def test_tool_registry_implements_exactly_the_contract_tools() -> None:
    assert tuple(TOOLS) == contract.TOOL_NAMES
    assert set(contract.DEFAULT_TOOLS) <= set(contract.TOOL_NAMES)


def test_app_serves_the_contract_paths() -> None:
    app = create_app(Settings.from_env({contract.ENV_ENDPOINT_NAME: "endpoint"}))
    paths = {
        f"{prefix}{route.path}": route.methods
        for prefix, route in _routes(app.routes)
        if isinstance(route, Route)
    }
    assert set(paths) == {
        contract.CHAT_PATH,
        contract.HEALTH_PATH,
        contract.OPENAI_CHAT_COMPLETIONS_PATH,
        contract.OPENAI_MODELS_PATH,
        contract.STATUS_PATH,
        contract.WARM_PATH,
        contract.PAGE_PATH,
        contract.PAGE_CONFIG_PATH,
    }
    assert "POST" in (paths[contract.CHAT_PATH] or set())
    assert "POST" in (paths[contract.OPENAI_CHAT_COMPLETIONS_PATH] or set())
    assert "GET" in (paths[contract.OPENAI_MODELS_PATH] or set())
    assert "GET" in (paths[contract.STATUS_PATH] or set())
    assert "POST" in (paths[contract.WARM_PATH] or set())


def _routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, BaseRoute]]:
    """Every route with the path prefix of the mounts it is under."""
    found: list[tuple[str, BaseRoute]] = []
    for route in routes:
        if isinstance(route, Mount):
            found.extend(_routes(route.routes, prefix + route.path))
        else:
            found.append((prefix, route))
    return found


def documented_settings() -> dict[str, tuple[str, str]]:
    """``variable -> (meaning, default)`` from the configuration table of docs/agent-api.md."""
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.*) \| (.*) \|$", DOCS.read_text(), flags=re.MULTILINE)
    return {name: (meaning, default) for name, meaning, default in rows}


def test_docs_list_every_setting_with_the_contract_default_and_bounds() -> None:
    documented = documented_settings()
    assert set(documented) == contract.AGENT_VARIABLES | contract.POWERTOOLS_VARIABLES
    defaults = {
        contract.ENV_RESPONSE_FORMAT: contract.RESPONSE_FORMAT_DEFAULT,
        contract.ENV_MAX_TOKENS: str(contract.MAX_TOKENS.default),
        contract.ENV_TEMPERATURE: str(contract.TEMPERATURE.default),
        contract.ENV_TOOLS: ",".join(contract.DEFAULT_TOOLS),
        contract.ENV_MAX_PROMPT_CHARS: str(contract.MAX_PROMPT_CHARS.default),
        contract.ENV_SERVICE_NAME: contract.SERVICE_NAME,
        contract.ENV_METRICS_NAMESPACE: contract.METRICS_NAMESPACE,
        contract.ENV_LOG_LEVEL: contract.LOG_LEVEL_DEFAULT,
    }
    assert {name: documented[name][1] for name in defaults} == {
        name: f"`{value}`" for name, value in defaults.items()
    }
    for name, bounds in [
        (contract.ENV_MAX_TOKENS, contract.MAX_TOKENS),
        (contract.ENV_TEMPERATURE, contract.TEMPERATURE),
        (contract.ENV_MAX_PROMPT_CHARS, contract.MAX_PROMPT_CHARS),
    ]:
        assert f"({bounds.range})" in documented[name][0]
    assert all(f"`{tool}`" in documented[contract.ENV_TOOLS][0] for tool in contract.TOOL_NAMES)
    assert all(f"`{level}`" in documented[contract.ENV_LOG_LEVEL][0] for level in contract.LOG_LEVELS)
