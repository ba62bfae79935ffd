"""The app implements what its deployment contract names: its tools and its routes."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from agent_api import contract
from agent_api.app import create_app
from agent_api.python_tools import module_tools
from agent_api.settings import Settings


def test_the_tools_found_in_the_source_are_the_tools_the_runtime_loads() -> None:
    # Synth reads the names with `ast` (agent_api.tool_catalog); the function imports the modules.
    catalog = contract.TOOL_CATALOG
    modules = {entry.module for entry in catalog.tools.values()}
    loaded = {name for module in modules for name in module_tools(module)}
    assert catalog.problems == ()
    assert loaded == set(contract.TOOL_NAMES)
    assert {"current_time", "calculator", "get_weather", "convert_units"} <= set(contract.TOOL_NAMES)
    assert set(contract.AGENT_TOOLS.start_value) <= set(contract.TOOL_NAMES)


def test_app_serves_the_contract_paths() -> None:
    app = create_app(Settings.from_env({contract.AGENT_ENDPOINT_NAME.variable: "endpoint"}))
    paths = {
        f"{prefix}{route.path}": route.methods
        for prefix, route in _routes(app.routes)
        if isinstance(route, Route)
    }
    assert set(paths) == {
        contract.CHAT_PATH,
        contract.HEALTH_PATH,
        contract.OPENAI_CHAT_COMPLETIONS_PATH,
        contract.OPENAI_RESPONSES_PATH,
        f"{contract.OPENAI_RESPONSES_PATH}/{{response_id}}",
        contract.OPENAI_MODELS_PATH,
        f"{contract.OPENAI_MODELS_PATH}/{{model_id}}",
        contract.MCP_PATH,
        contract.STATUS_PATH,
        contract.WARM_PATH,
        contract.PAGE_PATH,
        contract.PAGE_CONFIG_PATH,
    }
    assert "POST" in (paths[contract.CHAT_PATH] or set())
    assert "POST" in (paths[contract.OPENAI_CHAT_COMPLETIONS_PATH] or set())
    assert "POST" in (paths[contract.OPENAI_RESPONSES_PATH] or set())
    assert {"GET", "DELETE"} <= (paths[f"{contract.OPENAI_RESPONSES_PATH}/{{response_id}}"] or set())
    assert "POST" in (paths[contract.MCP_PATH] or set())
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
