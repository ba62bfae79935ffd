"""Content-derived image tags: an unchanged ``container/`` never rebuilds, a changed one rolls a new model."""

from __future__ import annotations

import hashlib
from pathlib import Path

# Editor and interpreter droppings must not change the tag, nor be uploaded as build source.
_IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".DS_Store"})
ASSET_EXCLUDES = [*(f"**/{part}" for part in sorted(_IGNORED_PARTS)), "**/*.pyc"]


def image_tag(container_dir: Path, engine: str) -> str:
    """Return ``<engine>-<16 hex digits>`` hashing every file's relative path and bytes, and the engine."""
    if not (container_dir / "buildspec.yml").is_file():
        raise FileNotFoundError(
            f"{container_dir} has no buildspec.yml: it is not the serving container folder"
        )
    digest = hashlib.sha256(f"engine={engine}\n".encode())
    for path in sorted(p for p in container_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(container_dir)
        if _IGNORED_PARTS.intersection(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{engine}-{digest.hexdigest()[:16]}"
