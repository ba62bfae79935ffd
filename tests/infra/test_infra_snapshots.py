"""Snapshots of every environment's template, with asset hashes and the content-derived image tag masked."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

pytestmark = pytest.mark.infra

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
_IMAGE_TAG = re.compile(r"\b(sglang|vllm)-[0-9a-f]{16}\b")


def masked(value: Any) -> Any:
    """``value`` with code-dependent hashes replaced, so only infrastructure changes churn snapshots."""
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, str):
        return _IMAGE_TAG.sub(r"\1-<content-hash>", _ASSET_HASH.sub("<asset-hash>", value))
    return value


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_template_matches_snapshot(
    template: Callable[[str], dict[str, Any]], snapshot: SnapshotAssertion, environment: str
) -> None:
    assert masked(template(environment)) == snapshot
