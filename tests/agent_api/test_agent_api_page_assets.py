"""The chat page's libraries (lambda/agent_api/chat_page/vendor/) are the npm lock's, byte for byte.

package.json pins each library the page uses under `dependencies` and package-lock.json locks it (`make
setup` installs it with `npm ci`, which checks each package's integrity). The page inlines a copy kept in
the repository beside its license, so that the Lambda bundle and `uvicorn agent_api.app:app` need no
node_modules; these tests keep that copy equal to the locked package. To update a library: `npm install
--save-exact <name>@<version>`, then copy the files named here from node_modules to vendor/<name>/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_api.page import PAGE_DIR

ROOT = Path(__file__).resolve().parents[2]
VENDOR = PAGE_DIR / "vendor"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


PACKAGE = read_json(ROOT / "package.json")
LOCK = read_json(ROOT / "package-lock.json")
LIBRARIES = sorted(PACKAGE["dependencies"])


def test_the_page_vendors_exactly_the_runtime_dependencies_with_their_licenses() -> None:
    assert sorted(path.name for path in VENDOR.iterdir()) == LIBRARIES == ["dompurify", "marked"]
    for name in LIBRARIES:
        assert (VENDOR / name / "LICENSE").is_file(), name


@pytest.mark.parametrize("name", LIBRARIES)
def test_each_library_is_pinned_and_locked_at_one_version(name: str) -> None:
    pinned = PACKAGE["dependencies"][name]
    locked = LOCK["packages"][f"node_modules/{name}"]

    assert pinned[0].isdigit(), f"package.json must pin {name} exactly, not {pinned!r}"
    assert locked["version"] == pinned
    assert locked["integrity"].startswith("sha512-")
    assert not locked.get("dev", False)


@pytest.mark.parametrize("name", LIBRARIES)
def test_each_vendored_file_is_the_locked_packages_file(name: str) -> None:
    installed = ROOT / "node_modules" / name
    if not (installed / "package.json").is_file():
        pytest.fail(f"{installed} is missing: run `make setup` (npm ci installs the locked packages)")
    assert read_json(installed / "package.json")["version"] == PACKAGE["dependencies"][name]

    copies = [path for path in (VENDOR / name).rglob("*") if path.is_file()]
    assert copies
    for copy in copies:
        relative = copy.relative_to(VENDOR / name)
        assert copy.read_bytes() == (installed / relative).read_bytes(), (
            f"{copy} differs from the locked {name} {PACKAGE['dependencies'][name]}: "
            f"cp node_modules/{name}/{relative.as_posix()} {copy.relative_to(ROOT)}"
        )
