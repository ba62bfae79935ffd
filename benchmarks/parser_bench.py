"""Parser CPU per chunk and cold import time: our provider vs Strands' built-in SageMakerAIModel.

Run from the repository root: ``.venv/bin/python benchmarks/parser_bench.py``. Every number is measured in
this run; ratios compare against baselines measured in this same run. Needs ``openai`` and
``mypy-boto3-sagemaker-runtime`` installed, which the built-in provider imports.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambda"))

from sagemaker_provider import SageMakerModel  # noqa: E402
from sagemaker_provider.formats import ModelRequest, ResponseParser, get_format  # noqa: E402
from sagemaker_provider.text_tool_calls import TextToolCallSyntax  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
MESSAGES: Any = [{"role": "user", "content": [{"text": "Hi"}]}]
# Tools offered: the parser then watches the text for tool calls written in it (text_tool_calls).
TOOLS: Any = [{"name": "get_weather", "description": "Weather.", "inputSchema": {"json": {"type": "object"}}}]
REPEAT = 300  # content chunks repeated: a long vLLM-like answer
RUNS = 7
# A held tool call: a coding agent writing a whole file through a tool, streamed a few characters a chunk.
HELD_SIZES = (200_000, 800_000)  # characters of the call's arguments
HELD_PIECE = 4  # characters per chunk: about one token
HELD_RUNS = 3
WRITE_FILE: Any = [
    {"name": "write_file", "description": "Write a file.", "inputSchema": {"json": {"type": "object"}}}
]


def long_vllm_stream() -> list[bytes]:
    """A long stream made of real vLLM chunks: header, content chunks repeated, finish, usage, [DONE].

    One event per part, as vLLM flushes them.
    """
    events = [
        e + b"\n\n" for e in (FIXTURES / "vllm" / "chat_stream_usage.txt").read_bytes().split(b"\n\n") if e
    ]
    content = [
        e for e in events if b'"content":"' in e and b'"content":""' not in e and b'"finish_reason":null' in e
    ]
    head = events[: events.index(content[0])]
    tail = events[events.index(content[-1]) + 1 :]
    return head + content * REPEAT + tail


class _Body:
    def __init__(self, parts: list[bytes]) -> None:
        self._parts = parts

    def __iter__(self) -> Any:
        return iter([{"PayloadPart": {"Bytes": p}} for p in self._parts])

    def close(self) -> None:
        pass


class StubClient:
    """Answers like boto3's sagemaker-runtime client with fixed parts (no network)."""

    def __init__(self, parts: list[bytes], exceptions: Any = None) -> None:
        self.parts = parts
        # The built-in provider's error handling reads the real client's exception classes.
        self.exceptions = exceptions

    def invoke_endpoint_with_response_stream(self, **_: Any) -> dict[str, Any]:
        return {"Body": _Body(self.parts)}


def cpu_per_chunk(run: Any, chunks: int) -> float:
    """Best-of-RUNS CPU microseconds per chunk (process time: worker threads included).

    The minimum, because on a shared machine other work only ever adds time.
    """
    samples = []
    for _ in range(RUNS):
        start = time.process_time()
        run()
        samples.append((time.process_time() - start) / chunks * 1e6)
    return min(samples)


def floor(parts: list[bytes]) -> None:
    """Incremental UTF-8 decode + newline framing + json.loads: the least any parser must do."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    rest = ""
    for part in parts:
        lines = (rest + decoder.decode(part)).split("\n")
        rest = lines.pop()
        for line in lines:
            if line.startswith("data: ") and line != "data: [DONE]":
                json.loads(line[6:])


def ours_parser(parts: list[bytes], request: ModelRequest | None = None) -> None:
    parser = ResponseParser(get_format("openai-chat"), request=request)
    for part in parts:
        parser.feed(part)
    parser.finish()


def held_chunks(parts: list[bytes], request: ModelRequest | None) -> int:
    """How many parts carrying answer text gave no text event when fed (text held back, not delayed)."""
    parser = ResponseParser(get_format("openai-chat"), request=request)
    held = 0
    for part in parts:
        events = parser.feed(part)
        if b'"content":"' in part and b'"content":""' not in part:
            held += not any("contentBlockDelta" in event for event in events)
    return held


async def _drain(stream: Any) -> int:
    count = 0
    async for _ in stream:
        count += 1
    return count


def ours_model(parts: list[bytes]) -> Any:
    """Return a run of our provider's stream over ``parts`` (set-up kept out of the measurement)."""
    model = SageMakerModel(endpoint_name="bench", client=StubClient(parts))
    return lambda: asyncio.run(_drain(model.stream(MESSAGES)))


def builtin_model(parts: list[bytes]) -> Any:
    """Return a run of the built-in provider's stream over ``parts``."""
    from strands.models.sagemaker import SageMakerAIModel

    model = SageMakerAIModel({"endpoint_name": "bench", "region_name": "us-east-1"}, {"max_tokens": 64})
    model.client = StubClient(parts, model.client.exceptions)  # type: ignore[assignment]
    return lambda: asyncio.run(_drain(model.stream(MESSAGES)))


def import_time(statement: str) -> float:
    """Median wall seconds of a fresh interpreter running ``statement``, minus an empty interpreter's."""

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT / "lambda")
        return time.perf_counter() - start

    base = statistics.median(once("pass") for _ in range(RUNS))
    return statistics.median(once(statement) for _ in range(RUNS)) - base


def recorded_streams() -> list[tuple[str, list[bytes]]]:
    """Recorded OpenAI-style streams, one SSE event per part."""
    names = [
        "vllm/chat_stream_usage.txt",
        "vllm/tools_auto_stream.txt",
        "sglang/a_text_stream_v1.body",
        "sglang/b_tool_call_stream.body",
        "tgi/chat_stream_usage.body",
        "tgi/chat_stream_tool_call.body",
    ]
    out = []
    for name in names:
        body = (FIXTURES / name).read_bytes()
        out.append((name, [e + b"\n\n" for e in body.split(b"\n\n") if e]))
    return out


def sse_text(text: str) -> list[bytes]:
    """``text`` as OpenAI chat chunks of ``HELD_PIECE`` characters, then a finish reason."""
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": text[i : i + HELD_PIECE]}}]}
        for i in range(0, len(text), HELD_PIECE)
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return [b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks]


def tgi_text(text: str) -> list[bytes]:
    """``text`` as TGI native token events of ``HELD_PIECE`` characters, then the final event."""
    pieces = [text[i : i + HELD_PIECE] for i in range(0, len(text), HELD_PIECE)]
    events: list[dict[str, Any]] = [{"token": {"id": 1, "text": piece, "special": False}} for piece in pieces]
    events.append({"token": {"id": 2, "text": "", "special": True}, "generated_text": text, "details": None})
    return [b"data: " + json.dumps(event).encode() + b"\n\n" for event in events]


def held_call_texts(size: int, syntax: str) -> tuple[str, str]:
    """A call whose arguments hold ``size`` characters of code, and a plain answer of the same text."""
    code = ("def double(x):\n    return x * 2  # <b>\n\n" * (size // 40 + 1))[:size]
    call = json.dumps({"name": "write_file", "parameters": {"path": "a.py", "content": code}})
    if syntax == "hermes":
        call = f"<tool_call>{call}</tool_call>"
    # The same characters, after text that makes them no call: what an answer of that size costs.
    return call, "Here: " + call


def parse_seconds(parts: list[bytes], format_name: str, request: ModelRequest) -> float:
    """Best-of-HELD_RUNS CPU seconds to parse ``parts`` (the held text is emitted at the end)."""
    samples = []
    for _ in range(HELD_RUNS):
        start = time.process_time()
        parser = ResponseParser(get_format(format_name), request=request)
        for part in parts:
            parser.feed(part)
        parser.finish()
        samples.append(time.process_time() - start)
    return min(samples)


def held_call_report() -> None:
    """Print held-call time / plain-text time, same size, same run: a constant ratio is linear time."""
    print(
        f"\nA held tool call vs plain text of the same size ({HELD_PIECE} characters a chunk, "
        f"best of {HELD_RUNS} runs)"
    )
    # (label, format, the syntax the call is written in, the text_tool_calls setting, the encoding)
    cases: list[tuple[str, str, str, TextToolCallSyntax | Literal[False], Any]] = [
        ("openai-chat, llama3_json", "openai-chat", "llama3_json", "llama3_json", sse_text),
        ("openai-chat, hermes", "openai-chat", "hermes", "hermes", sse_text),
        # The native formats read calls in their chat template's syntax (Llama 3.1 JSON), whatever the setting
        ("tgi native (chat template)", "tgi", "llama3_json", False, tgi_text),
    ]
    for label, format_name, syntax, setting, encode in cases:
        request = ModelRequest(messages=MESSAGES, tool_specs=WRITE_FILE, text_tool_calls=setting)
        held_times = []
        for size in HELD_SIZES:
            call, plain = held_call_texts(size, syntax)
            held = parse_seconds(encode(call), format_name, request)
            text = parse_seconds(encode(plain), format_name, request)
            held_times.append(held)
            print(
                f"  {label:28s} {size // 1000:4d} kB: held call {held:6.2f} s, plain text {text:6.2f} s, "
                f"ratio {held / text:5.2f}x"
            )
        growth = held_times[-1] / held_times[0]
        print(
            f"  {label:28s} held call, {HELD_SIZES[-1] // HELD_SIZES[0]}x the size: {growth:5.2f}x the time"
        )


def main() -> None:
    """Measure and print."""
    parts = long_vllm_stream()
    chunks = len(parts)
    # Warm both paths (imports, caches) before measuring.
    ours_model(parts[:5] + parts[-3:])()
    builtin_model(parts[:5] + parts[-3:])()

    floor_us = cpu_per_chunk(lambda: floor(parts), chunks)
    parser_us = cpu_per_chunk(lambda: ours_parser(parts), chunks)
    model_us = cpu_per_chunk(ours_model(parts), chunks)
    builtin_us = cpu_per_chunk(builtin_model(parts), chunks)

    print(f"CPU per chunk, long vLLM-like stream ({chunks} chunks, best of {RUNS} runs)")
    print(f"  floor (decode + framing + json.loads) {floor_us:8.2f} us")
    print(
        f"  ours, parser only                      {parser_us:8.2f} us  = {parser_us / floor_us:5.2f}x floor"
    )
    print(f"  ours, SageMakerModel.stream            {model_us:8.2f} us  = {model_us / floor_us:5.2f}x floor")
    print(f"  built-in SageMakerAIModel.stream       {builtin_us:8.2f} us")
    print(f"  ratio ours/built-in (stream vs stream) {model_us / builtin_us:8.3f}x   (target <= 0.1x)")
    print(f"  ratio ours/built-in (parser vs stream) {parser_us / builtin_us:8.3f}x")

    # "hermes" looks for its marker in every chunk: the most work a syntax does on plain text.
    tools = ModelRequest(messages=MESSAGES, tool_specs=TOOLS, text_tool_calls="hermes")
    watching_us = cpu_per_chunk(lambda: ours_parser(parts, tools), chunks)
    print("\nTool calls in the text: the same plain-text stream, watched (tools, hermes) vs not (no tools)")
    print(f"  parser only, no tools offered          {parser_us:8.2f} us")
    print(
        f"  parser only, tools offered             {watching_us:8.2f} us  = {watching_us / parser_us:5.2f}x, "
        f"{watching_us - parser_us:+.2f} us / chunk"
    )
    held, held_before = held_chunks(parts, tools), held_chunks(parts, None)
    print(f"  text chunks held back: {held} with tools, {held_before} without (of {chunks} chunks)")

    print("\nCPU per chunk, recorded streams (stream vs stream; short streams: per-call set-up dominates)")
    for name, stream_parts in recorded_streams():
        ours = cpu_per_chunk(ours_model(stream_parts), len(stream_parts))
        builtin_run = builtin_model(stream_parts)
        try:
            builtin_run()
        except Exception as error:  # the built-in crashes on some real streams: report it
            crash = f"{type(error).__name__}: {str(error)[:60]}"
            print(f"  {name:34s} ours {ours:8.1f} us   built-in crashes: {crash}")
            continue
        builtin = cpu_per_chunk(builtin_run, len(stream_parts))
        print(f"  {name:34s} ours {ours:8.1f} us   built-in {builtin:8.1f} us   ratio {ours / builtin:6.3f}x")

    held_call_report()

    package = import_time("import sagemaker_provider")
    formats = import_time("from sagemaker_provider.formats import ResponseParser")
    provider = import_time("from sagemaker_provider import SageMakerModel")
    builtin_import = import_time("from strands.models.sagemaker import SageMakerAIModel")
    print(f"\nCold import (median of {RUNS} fresh interpreters, interpreter start-up subtracted)")
    print(
        f"  import sagemaker_provider                       {package * 1000:7.1f} ms  "
        f"= {package / builtin_import:5.3f}x   (target <= 0.6x)"
    )
    print(
        f"  from sagemaker_provider.formats import ResponseParser (replay) {formats * 1000:7.1f} ms  "
        f"= {formats / builtin_import:5.3f}x"
    )
    print(
        f"  from sagemaker_provider import SageMakerModel   {provider * 1000:7.1f} ms  "
        f"= {provider / builtin_import:5.3f}x"
    )
    print(f"  from strands.models.sagemaker import SageMakerAIModel {builtin_import * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
