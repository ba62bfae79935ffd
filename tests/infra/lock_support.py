"""Reading the project's requirement locks (uv's requirements.txt output) and their .in inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_LOCK = ROOT / "lambda" / "requirements.txt"
CDK_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"
VLLM_LOCK = ROOT / "local" / "requirements-vllm.txt"
LOCKS = (LAMBDA_LOCK, CDK_LOCK, DEV_LOCK, VLLM_LOCK)


@dataclass(frozen=True)
class Locked:
    """One entry of a lock: ``name==version ; marker`` and the hashes of its files."""

    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> str:
        (spec,) = self.requirement.specifier
        return spec.version


def lock_entries(lock: Path) -> list[Locked]:
    """The entries of a lock, its ``\\``-continued lines joined and its comments dropped."""
    text = re.sub(r"\\\n", " ", lock.read_text())
    entries = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement, *options = re.split(r"\s+--", line)
        hashes = tuple(option.removeprefix("hash=") for option in options if option.startswith("hash="))
        entries.append(Locked(Requirement(requirement), hashes))
    return entries


def lock_pins(lock: Path) -> dict[str, list[str]]:
    """Each locked package's versions (several only where a marker splits them) by canonical name."""
    pins: dict[str, list[str]] = {}
    for entry in lock_entries(lock):
        pins.setdefault(entry.name, []).append(entry.version)
    return pins


def input_requirements(path: Path) -> list[Requirement]:
    """The requirements of a .in file, following its ``-r`` includes (``-c`` constraints are not inputs)."""
    requirements = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            requirements += input_requirements(ROOT / line.removeprefix("-r ").strip())
        elif line and not line.startswith("-"):
            requirements.append(Requirement(line))
    return requirements


def lock_dependents(lock: Path) -> dict[str, set[str]]:
    """The ``# via`` annotations of a lock: which locked packages require each package."""
    dependents: dict[str, set[str]] = {}
    current = ""
    for line in lock.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line):
            current = canonicalize_name(match[1])
            dependents[current] = set()
        elif match := re.match(r"^\s+#\s+(?:via\s+)?(?!via$)([A-Za-z0-9][A-Za-z0-9._-]*)$", line):
            dependents[current].add(canonicalize_name(match[1]))
    return dependents
