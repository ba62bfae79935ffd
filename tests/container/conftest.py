"""Make the container's modules importable as `serve` imports them (top-level, from its own folder)."""

import sys
from pathlib import Path

CONTAINER_DIR = Path(__file__).resolve().parents[2] / "container"
if str(CONTAINER_DIR) not in sys.path:
    sys.path.insert(0, str(CONTAINER_DIR))
