"""Content-derived image tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.image_build.image_tag import image_tag

pytestmark = pytest.mark.infra


@pytest.fixture
def container(tmp_path: Path) -> Path:
    root = tmp_path / "container"
    root.mkdir()
    (root / "buildspec.yml").write_text("version: 0.2\n")
    (root / "Dockerfile").write_text("FROM scratch\n")
    return root


def test_tag_is_engine_plus_16_hex_digits(container: Path) -> None:
    tag = image_tag(container, "sglang")
    assert tag.startswith("sglang-")
    assert len(tag.removeprefix("sglang-")) == 16


def test_unchanged_folder_keeps_its_tag(container: Path) -> None:
    assert image_tag(container, "sglang") == image_tag(container, "sglang")


def test_changed_file_changes_the_tag(container: Path) -> None:
    before = image_tag(container, "sglang")
    (container / "Dockerfile").write_text("FROM scratch\nRUN true\n")
    assert image_tag(container, "sglang") != before


def test_renamed_file_changes_the_tag(container: Path) -> None:
    before = image_tag(container, "sglang")
    (container / "Dockerfile").rename(container / "Containerfile")
    assert image_tag(container, "sglang") != before


def test_engine_changes_the_hash(container: Path) -> None:
    assert image_tag(container, "sglang")[-16:] != image_tag(container, "vllm")[-16:]


def test_bytecode_caches_do_not_change_the_tag(container: Path) -> None:
    before = image_tag(container, "vllm")
    (container / "__pycache__").mkdir()
    (container / "__pycache__" / "serve.cpython-311.pyc").write_bytes(b"\0")
    assert image_tag(container, "vllm") == before


def test_folder_without_buildspec_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"has no buildspec\.yml"):
        image_tag(tmp_path, "sglang")
