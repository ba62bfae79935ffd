"""The app implements what its deployment contract names: its tools and its routes."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from agent_api import contract
from agent_api.app import create_app
from agent_api.python_tools import module_tools
from agent_api.settings import Settings
from tests.support.api_routes import PAGE_ROUTES, ROUTES


def test_the_tools_found_in_the_source_are_the_tools_the_runtime_loads() -> None:
    # Synth reads the names with `ast` (agent_api.tool_catalog); the function imports the modules.
    catalog = contract.TOOL_CATALOG
    modules = {entry.module for entry in catalog.tools.values()}
    loaded = {name for module in modules for name in module_tools(module)}
    assert catalog.problems == ()
    assert loaded == set(contract.TOOL_NAMES)
    assert {"current_time", "calculator", "get_weather", "convert_units"} <= set(contract.TOOL_NAMES)
    assert set(contract.AGENT_TOOLS.start_value) <= set(contract.TOOL_NAMES)


def test_app_serves_every_route_api_gateway_sends_it_and_no_other() -> None:
    app = create_app(Settings.from_env({contract.AGENT_ENDPOINT_NAME.variable: "endpoint"}))
    served = {
        (f"{prefix}{route.path}".rstrip("/"), method)
        for prefix, route in _routes(app.routes)
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    # API Gateway also sends `GET` and `DELETE /mcp`, which the app answers 405 itself (docs/agent-api.md,
    # "MCP server"); `/health` is the Web Adapter's, never routed; the OAuth metadata is Cognito's alone.
    app_answers_405 = {(contract.MCP_PATH, "GET"), (contract.MCP_PATH, "DELETE")}
    assert served == {*ROUTES, *PAGE_ROUTES} - app_answers_405 | {(contract.HEALTH_PATH, "GET")}


def _routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, BaseRoute]]:
    """Every route with the path prefix of the mounts it is under."""
    found: list[tuple[str, BaseRoute]] = []
    for route in routes:
        if isinstance(route, Mount):
            found.extend(_routes(route.routes, prefix + route.path))
        else:
            found.append((prefix, route))
    return found
