"""The agent's enabled Python tools (`AGENT_TOOLS`): the built-ins and the team's, imported by name.

`agent_api.tool_catalog` found where each tool is defined, from the source; only the modules of the enabled
tools are imported here (a team module whose package is missing breaks only the environments that enable its
tools), and each must define the tool the catalog names, or the app does not start.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from strands.types.tools import AgentTool

from agent_api.tool_catalog import ToolCatalog


class ToolLoadError(ValueError):
    """An enabled tool could not be loaded: its module failed to import, or does not define it."""


def module_tools(module_name: str) -> dict[str, AgentTool]:
    """Return the tools a module defines at its top level, by the name the model calls them."""
    module = importlib.import_module(module_name)
    return {value.tool_name: value for value in vars(module).values() if isinstance(value, AgentTool)}


def load_tools(names: Iterable[str], catalog: ToolCatalog) -> list[AgentTool]:
    """Import the tools ``names`` (each in ``catalog``), in that order.

    Raises:
        ToolLoadError: naming the tool, its module and why (an import error, or no such tool in it).

    """
    loaded: dict[str, dict[str, AgentTool]] = {}
    tools: list[AgentTool] = []
    for name in names:
        entry = catalog.tools[name]
        if entry.module not in loaded:
            try:
                loaded[entry.module] = module_tools(entry.module)
            except Exception as error:
                raise ToolLoadError(
                    f"tool {name!r}: importing {entry.module} ({entry.path}) failed: "
                    f"{type(error).__name__}: {error} (a package it needs goes in lambda/requirements.in, "
                    "then `make lock`)"
                ) from error
        tool = loaded[entry.module].get(name)
        if tool is None:
            raise ToolLoadError(
                f"tool {name!r}: {entry.path}:{entry.line} decorates it with @tool, but {entry.module} "
                "defines no tool of that name when imported "
                f"(it has: {', '.join(loaded[entry.module]) or 'none'})"
            )
        tools.append(tool)
    return tools
