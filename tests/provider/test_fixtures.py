"""Every recorded body, read by the provider and checked by Strands' own stream processing."""

from __future__ import annotations

from pathlib import Path

import pytest
from strands.types.exceptions import ContextWindowOverflowException

from local.tiny_model.script import PLAIN_TEXT, TOOL_RESULT_TEXT
from sagemaker_provider.errors import ModelStreamError, SageMakerProviderError
from tests.provider.helpers import (
    FIXTURES,
    NOT_RESPONSES,
    expected,
    fixture_id,
    parse_parts,
    summarize,
)

EXPECTED_BODIES = sorted(FIXTURES.glob("*/*.body"))
VLLM_TEXT = [
    "chat_stream",
    "chat_stream_usage",
    "chat_nonstream",
    "chat_nonstream_logprobs",
    "invocations_stream",
    "invocations_nonstream",
]
VLLM_TOOLS = [
    "tools_auto_stream",
    "tools_auto_nonstream",
    "tools_required_stream",
    "tools_required_nonstream",
    "tools_named_stream",
    "tools_named_nonstream",
    "invocations_tools_stream",
]
# The format each body's server sends, for checking the named formats too (auto covers them all).
NAMED_FORMAT = {
    "tgi/native": "tgi",
    "djl_lmi/jsonlines": "lmi",
    "djl_lmi/json_nonstream": "lmi",
    "djl_lmi/error_midstream": "lmi",
    "djl_lmi/tgi_compat": "lmi",
}


def _named_format(path: Path) -> str:
    key = fixture_id(path)
    return next((fmt for prefix, fmt in NAMED_FORMAT.items() if key.startswith(prefix)), "openai-chat")


def _compare(path: Path, format_name: str) -> None:
    want = expected(path)
    got = summarize(parse_parts([path.read_bytes()], format_name))
    assert got["text"] == want["text"]
    assert got["reasoning"] == want["reasoning"]
    assert got["stop_reason"] == want["stop_reason"]
    if want["error"] is not None:
        assert got["error"] == want["error"]
    else:
        assert got["tool_calls"] == want["tool_calls"]
        assert got["usage"] == want["usage"]


@pytest.mark.parametrize("path", EXPECTED_BODIES, ids=fixture_id)
def test_auto_reads_fixture_as_expected(path: Path) -> None:
    _compare(path, "auto")


@pytest.mark.parametrize("path", [p for p in EXPECTED_BODIES if "error_input" not in p.name], ids=fixture_id)
def test_named_format_reads_fixture_as_expected(path: Path) -> None:
    _compare(path, _named_format(path))


@pytest.mark.parametrize("case", VLLM_TEXT)
def test_vllm_text_case_gives_the_tiny_model_reply(case: str) -> None:
    got = summarize(parse_parts([(FIXTURES / "vllm" / f"{case}.txt").read_bytes()]))
    assert (got["text"], got["stop_reason"], got["tool_calls"]) == (PLAIN_TEXT, "end_turn", [])


@pytest.mark.parametrize("case", VLLM_TOOLS)
def test_vllm_tool_case_gives_the_weather_call(case: str) -> None:
    got = summarize(parse_parts([(FIXTURES / "vllm" / f"{case}.txt").read_bytes()]))
    assert got["stop_reason"] == "tool_use"
    assert [(c["name"], c["arguments"]) for c in got["tool_calls"]] == [("get_weather", {"city": "Paris"})]
    assert got["tool_calls"][0]["id"].startswith("chatcmpl-tool-")


def test_vllm_tool_result_followup_gives_the_weather_answer() -> None:
    got = summarize(parse_parts([(FIXTURES / "vllm" / "tools_result_followup_stream.txt").read_bytes()]))
    assert (got["text"], got["stop_reason"]) == (TOOL_RESULT_TEXT, "end_turn")


def test_vllm_length_stop_maps_to_max_tokens() -> None:
    got = summarize(parse_parts([(FIXTURES / "vllm" / "chat_stop_length.txt").read_bytes()]))
    assert got["stop_reason"] == "max_tokens"
    assert PLAIN_TEXT.startswith(got["text"])


@pytest.mark.parametrize("case", ["completions_stream", "completions_nonstream"])
def test_vllm_legacy_completions_text_is_read(case: str) -> None:
    got = summarize(parse_parts([(FIXTURES / "vllm" / f"{case}.txt").read_bytes()]))
    # The recorded prompt is "Hello": the model goes on from there.
    assert got["text"] == PLAIN_TEXT.removeprefix("Hello")


def test_vllm_stream_usage_is_reported() -> None:
    got = summarize(parse_parts([(FIXTURES / "vllm" / "chat_stream_usage.txt").read_bytes()]))
    assert got["usage"] == {"input": 96, "output": 10}


@pytest.mark.parametrize("case", ["error_bad_model", "error_bad_request"])
def test_vllm_error_body_raises_with_server_message(case: str) -> None:
    events = parse_parts([(FIXTURES / "vllm" / f"{case}.txt").read_bytes()])
    assert isinstance(events[-1], ModelStreamError)
    assert events[-1].message in (FIXTURES / "vllm" / f"{case}.txt").read_text().replace("\\n", "\n")


def test_sglang_context_length_error_raises_context_overflow() -> None:
    events = parse_parts([(FIXTURES / "sglang" / "e_error_context_length.body").read_bytes()])
    assert isinstance(events[-1], ContextWindowOverflowException)


def test_tgi_input_length_validation_raises_context_overflow() -> None:
    events = parse_parts([(FIXTURES / "tgi" / "error_nonstream_validation_422.body").read_bytes()])
    assert isinstance(events[-1], ContextWindowOverflowException)


@pytest.mark.parametrize("name", sorted(NOT_RESPONSES))
def test_non_response_body_raises_typed_error(name: str) -> None:
    events = parse_parts([(FIXTURES / name).read_bytes()])
    assert isinstance(events[-1], SageMakerProviderError)


def test_midstream_error_delivers_text_before_raising() -> None:
    events = parse_parts([(FIXTURES / "sglang" / "e_error_midstream.body").read_bytes()])
    assert [
        e["contentBlockDelta"]["delta"]["text"]
        for e in events
        if isinstance(e, dict) and "contentBlockDelta" in e
    ] == ["Paris", " is", " the"]
