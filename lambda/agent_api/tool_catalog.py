"""The agent's Python tools by name, read from their source without importing it.

Two places hold them: the built-ins (`agent_api/tools.py`) and the team's own (`team_tools/*.py` beside
`agent_api`, docs/tools.md). A tool is a module-level function decorated with Strands' ``@tool`` (or
``@strands.tool``), named by the decorator's ``name=`` if it gives one, else by the function. Synth must know
the names to check ``agent.tools`` without importing Strands (the CDK app never imports the runtime's
dependencies), so they are found with :mod:`ast`; `agent_api.python_tools` imports the modules that hold
the enabled ones and checks that each really defines its tool.

A file that cannot be read, a name that is not a string literal or not a name a model may call, and a name
two tools share are problems: synth and the app report them (`agent.tools` / `AGENT_TOOLS`) instead of
guessing. Standard library only: the contract imports this module.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BUILT_IN_MODULE: Final = "agent_api.tools"
TEAM_PACKAGE: Final = "team_tools"
# Strands' rule for the name of a tool a model calls (strands.tools.tools.validate_tool_use_name).
TOOL_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DECORATORS: Final = ("tool", "strands.tool")


@dataclass(frozen=True)
class ToolEntry:
    """Where a tool is defined: its module (dotted, importable from the Lambda's root), file, `@tool` line."""

    name: str
    module: str
    path: str
    line: int

    @property
    def built_in(self) -> bool:
        """Whether it is one of the project's built-in tools (not the team's)."""
        return self.module == BUILT_IN_MODULE


@dataclass(frozen=True)
class ToolCatalog:
    """Every Python tool found, by name (built-ins first), and the problems met finding them."""

    tools: dict[str, ToolEntry]
    problems: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The names of every tool found."""
        return tuple(self.tools)


def tool_modules(lambda_root: Path, team_package: str = TEAM_PACKAGE) -> list[tuple[str, Path]]:
    """Return the modules that may hold tools, as (dotted name, file): the built-ins, then the team's."""
    modules = [(BUILT_IN_MODULE, lambda_root / "agent_api" / "tools.py")]
    team = lambda_root / team_package
    if team.is_dir():
        modules += [
            (f"{team_package}.{path.stem}", path)
            for path in sorted(team.glob("*.py"))
            if path.stem != "__init__" and path.stem.isidentifier()
        ]
    return modules


def discover(lambda_root: Path, team_package: str = TEAM_PACKAGE) -> ToolCatalog:
    """Find every tool under ``lambda_root`` (the Lambda's code: `agent_api/`, and `team_tools/`)."""
    tools: dict[str, ToolEntry] = {}
    problems: list[str] = []
    for module, path in tool_modules(lambda_root, team_package):
        where = path.relative_to(lambda_root).as_posix()
        try:
            tree = ast.parse(path.read_bytes(), filename=where)
        except (OSError, SyntaxError, ValueError) as error:
            problems.append(f"{where}: cannot be read for its tools ({error})")
            continue
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                if not _is_tool_decorator(decorator):
                    continue
                name = _tool_name(node, decorator)
                entry_where = f"{where}:{decorator.lineno}"
                if name is None:
                    problems.append(
                        f"{entry_where}: @tool(name=...) must be a string literal, so synth can read it"
                    )
                elif TOOL_NAME_PATTERN.fullmatch(name) is None:
                    problems.append(f"{entry_where}: tool name {name!r} is not 1-64 of A-Z a-z 0-9 _ -")
                elif name in tools:
                    other = tools[name]
                    problems.append(f"{entry_where}: tool name {name!r} is also {other.path}:{other.line}'s")
                else:
                    tools[name] = ToolEntry(name, module, where, decorator.lineno)
    return ToolCatalog(tools, tuple(problems))


def _is_tool_decorator(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target) in _DECORATORS


def _tool_name(node: ast.FunctionDef | ast.AsyncFunctionDef, decorator: ast.expr) -> str | None:
    """Return the name ``@tool`` gives: its ``name=`` (None if not a literal string), else the function's."""
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if keyword.arg == "name":
                value = keyword.value
                return (
                    value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
                )
    return node.name
