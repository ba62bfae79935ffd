"""However a body is split into parts, the events are the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.provider.helpers import body_files, fixture_id, outcome, parse_parts

BODIES = body_files()


@pytest.mark.parametrize("path", BODIES, ids=fixture_id)
def test_split_at_every_byte_offset_gives_identical_events(path: Path) -> None:
    body = path.read_bytes()
    whole = outcome(parse_parts([body]))
    for offset in range(len(body) + 1):
        assert outcome(parse_parts([body[:offset], body[offset:]])) == whole, offset


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_multi_splits_give_identical_events(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(BODIES), label="fixture")
    body = path.read_bytes()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=40), label="cuts"))
    parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert outcome(parse_parts(parts)) == outcome(parse_parts([body]))


def test_one_byte_parts_give_identical_events() -> None:
    for path in BODIES:
        body = path.read_bytes()
        parts = [body[i : i + 1] for i in range(len(body))] or [b""]
        assert outcome(parse_parts(parts)) == outcome(parse_parts([body])), path.name
