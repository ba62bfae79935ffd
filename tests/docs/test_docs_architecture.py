"""docs/architecture.md against the tree: every path it names exists, every `file:function` hop names a
definition of that file, and every module of the project has its line in the annotated tree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "architecture.md"
# The code the tree maps: every Python module of these folders (the tests map themselves in tests/README.md).
MAPPED = ("app.py", "stacks", "lambda", "container", "local", "client", "ops", "benchmarks")
# A backticked path: at least one folder, or a file of the top level with an extension; `:name` a definition.
PATH_REFERENCE = re.compile(r"`((?:[\w.-]+/)+[\w.-]*|[\w-]+\.(?:py|sh|json|md|yml|toml))(?::([\w.]+))?`")
# A hop without backticks, `file.py:function` in the request's path.
HOP = re.compile(r"((?:[\w-]+/)*[\w-]+\.py):([A-Za-z_][\w.]*)")
# How a name is defined in a module: a function, a class, or an assignment (a field, a constant).
_DEFINITION = r"^\s*(?:(?:async def|def|class)\s+{name}\b|{name}\s*[:=])"


def tree_paths(document: str) -> list[str]:
    """Return the paths of the annotated tree (its ```text block), rebuilt from the indentation."""
    block = document.split("```text\n", 1)[1].split("\n```", 1)[0]
    parents: list[tuple[int, str]] = []
    paths = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        name = line.split()[0]
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = "".join(parent for _, parent in parents) + name
        paths.append(path)
        if name.endswith("/"):
            parents.append((indent, name))
    return paths


def mapped_modules() -> set[str]:
    modules = set()
    for top in MAPPED:
        found = [ROOT / top] if top.endswith(".py") else (ROOT / top).rglob("*.py")
        modules |= {path.relative_to(ROOT).as_posix() for path in found}
    return modules


def _resolve(reference: str) -> Path | None:
    """The file a reference names: from the root, or from lambda/agent_api, where the request's path runs."""
    for base in (ROOT, ROOT / "lambda" / "agent_api", ROOT / "lambda"):
        if (base / reference).exists():
            return base / reference
    return None


def _defines(path: Path, dotted: str) -> bool:
    """Whether each name of `dotted` (`Class.method`) is defined in the file (`_DEFINITION`)."""
    source = path.read_text()
    return all(
        re.search(_DEFINITION.format(name=re.escape(name)), source, re.M) for name in dotted.split(".")
    )


def test_every_module_has_its_line_in_the_tree() -> None:
    missing = mapped_modules() - set(tree_paths(DOCUMENT.read_text()))
    assert not missing, f"modules without a line in docs/architecture.md: {sorted(missing)}"


def test_every_path_of_the_tree_exists() -> None:
    absent = [path for path in tree_paths(DOCUMENT.read_text()) if not (ROOT / path).exists()]
    assert not absent, f"docs/architecture.md names paths that do not exist: {absent}"


@pytest.mark.parametrize(
    "reference",
    sorted({match.group(0) for match in PATH_REFERENCE.finditer(DOCUMENT.read_text())}),
)
def test_every_backticked_path_exists_and_names_what_it_defines(reference: str) -> None:
    match = PATH_REFERENCE.fullmatch(reference)
    assert match is not None
    path, definition = match.groups()
    if "<" in path:
        pytest.skip("a pattern, not a path")
    found = _resolve(path)
    assert found is not None, f"{path} does not exist"
    if definition is not None:
        assert _defines(found, definition), f"{path} defines no {definition}"


@pytest.mark.parametrize("hop", sorted({m.group(0) for m in HOP.finditer(DOCUMENT.read_text())}))
def test_every_hop_of_the_paths_names_a_definition_of_its_file(hop: str) -> None:
    path, definition = hop.split(":")
    found = _resolve(path)
    assert found is not None, f"{path} does not exist"
    assert _defines(found, definition), f"{path} defines no {definition}"
