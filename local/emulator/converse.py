"""Bedrock runtime's ``Converse`` and ``ConverseStream``, answered by an OpenAI-compatible server.

``POST /model/{modelId}/converse`` and ``POST /model/{modelId}/converse-stream`` (botocore's
``bedrock-runtime`` service model): the model id must be one the emulator was given (else Bedrock's
``ValidationException`` for an invalid model identifier), the request is translated to a streamed
chat-completions request (``converse_request``), and the server's stream is read back as Converse events
(``chat_stream``): written as they come, one AWS event-stream frame each, for ``ConverseStream``, or folded
into one ``output.message`` for ``Converse``. Throttling and the first-byte delay apply to both; the part
delay, re-splitting and injected stream errors to ``ConverseStream``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.emulator import bedrock_errors, errors, eventstream
from local.emulator.backend import BackendUnreachableError, open_post, read_all
from local.emulator.chat_stream import Event, StreamFailure, converse_events
from local.emulator.converse_request import ConverseRequestError, to_chat_request
from local.emulator.exchange import Exchange, new_request_id
from local.emulator.faults import Faults

if TYPE_CHECKING:
    from local.emulator.server import Emulator

ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<operation>converse|converse-stream)$")
STREAM_OPERATION = "converse-stream"


@dataclass(frozen=True)
class ConverseCall:
    """One request to a Converse route, as the emulator read it (before any check or fault)."""

    model_id: str
    stream: bool
    """Whether it was ``ConverseStream`` (else ``Converse``)."""
    path: str
    headers: dict[str, str]
    body: bytes


def serve(exchange: Exchange, emulator: Emulator, model_id: str, stream: bool, body: bytes) -> None:
    """Answer one Converse or ConverseStream call for ``model_id`` whose ``body`` has been read."""
    started = time.monotonic()
    if emulator.on_converse is not None:
        emulator.on_converse(
            ConverseCall(model_id, stream, exchange.path, dict(exchange.headers.items()), body)
        )
    if "Authorization" not in exchange.headers:
        exchange.send_error_response(errors.missing_authentication())
        return
    faults, throttled = emulator.fault_book.take_for_request(model_id)
    if throttled:
        exchange.send_error_response(bedrock_errors.throttling())
        return
    model = emulator.converse_models.get(model_id)
    if model is None:
        exchange.send_error_response(bedrock_errors.invalid_model_id())
        return
    try:
        chat = to_chat_request(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError):
        exchange.send_error_response(bedrock_errors.validation("The request body is not valid JSON."))
        return
    except ConverseRequestError as error:
        exchange.send_error_response(bedrock_errors.validation(str(error)))
        return
    if faults.first_byte_delay:
        time.sleep(faults.first_byte_delay)
    try:
        connection, response = open_post(
            model.backend_url,
            model.chat_completions_target,
            json.dumps(chat.body).encode("utf-8"),
            {"Content-Type": "application/json", "Accept": "text/event-stream"},
            emulator.backend_timeout,
        )
    except BackendUnreachableError as error:
        exchange.send_error_response(bedrock_errors.internal_server(str(error)))
        return
    try:
        content_type = response.getheader("Content-Type", "")
        if not 200 <= response.status < 300:
            exchange.send_error_response(_backend_error(response.status, read_all(response), model_id))
        elif not content_type.startswith("text/event-stream"):
            message = (
                f"The model server answered {content_type or 'no Content-Type'}, not a text/event-stream."
            )
            exchange.send_error_response(bedrock_errors.model_error(message, model_id, response.status))
        elif stream:
            exchange.send_head(
                200,
                {
                    "x-amzn-RequestId": new_request_id(),
                    "Content-Type": eventstream.CONTENT_TYPE,
                    "Transfer-Encoding": "chunked",
                },
            )
            _write_stream(exchange, converse_events(response, chat.stop_sequences, started), faults)
            exchange.end_chunks()
        else:
            _answer(exchange, converse_events(response, chat.stop_sequences, started), model_id)
    finally:
        connection.close()


def _backend_error(status: int, body: bytes, model_id: str) -> errors.ErrorResponse:
    """Return Bedrock's answer to a model server that refused the request with ``status``."""
    message = _error_message(body)
    if status == 400:
        # The model found the request invalid (too long for its context, ...): Bedrock passes that on.
        return bedrock_errors.validation(message)
    if status == 429:
        return bedrock_errors.throttling()
    return bedrock_errors.model_error(
        f"Received error ({status}) from the model: {message}", model_id, status
    )


def _error_message(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        parsed: Any = json.loads(text)
    except json.JSONDecodeError:
        return text
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return text


def _write_stream(exchange: Exchange, events: Iterator[Event | StreamFailure], faults: Faults) -> None:
    """Write each event as a frame (with the stream faults) until the stream ends or fails."""
    limit = faults.stream_error_after_bytes
    sent_bytes = 0
    deltas = 0
    for item in events:
        if isinstance(item, StreamFailure):
            exchange.write_chunk(bedrock_errors.model_stream_error_event(item.message))
            return
        member, body = item
        if member == "messageStop" and limit is not None:
            # The answer was shorter than the fault's limit: the error still breaks it off before its end.
            exchange.write_chunk(_injected_stream_error(faults, sent_bytes))
            return
        if member != "contentBlockDelta":
            exchange.write_chunk(eventstream.json_event(member, body))
            continue
        for piece in _split(body, faults.split_every):
            size = len(_delta_text(piece).encode("utf-8"))
            if limit is not None and sent_bytes + size > limit:
                if limit > sent_bytes:
                    cut = _with_delta_text(piece, _cut(_delta_text(piece), limit - sent_bytes))
                    exchange.write_chunk(eventstream.json_event(member, cut))
                exchange.write_chunk(_injected_stream_error(faults, limit))
                return
            if deltas and faults.part_delay:
                time.sleep(faults.part_delay)
            exchange.write_chunk(eventstream.json_event(member, piece))
            deltas += 1
            sent_bytes += size


def _answer(exchange: Exchange, events: Iterator[Event | StreamFailure], model_id: str) -> None:
    """Fold the events into one Converse answer: the message, ``stopReason``, ``usage``, ``metrics``."""
    blocks: dict[int, dict[str, Any]] = {}
    tool_inputs: dict[int, str] = {}
    answer: dict[str, Any] = {}
    for item in events:
        if isinstance(item, StreamFailure):
            failure = (
                bedrock_errors.model_timeout(item.message)
                if item.timed_out
                else bedrock_errors.model_error(item.message, model_id)
            )
            exchange.send_error_response(failure)
            return
        member, body = item
        index = body.get("contentBlockIndex", -1)
        if member == "contentBlockStart":
            blocks[index] = {"toolUse": {**body["start"]["toolUse"], "input": {}}}
            tool_inputs[index] = ""
        elif member == "contentBlockDelta":
            delta = body["delta"]
            if "toolUse" in delta:
                tool_inputs[index] += delta["toolUse"]["input"]
            elif "reasoningContent" in delta:
                block = blocks.setdefault(index, {"reasoningContent": {"reasoningText": {"text": ""}}})
                block["reasoningContent"]["reasoningText"]["text"] += delta["reasoningContent"]["text"]
            else:
                blocks.setdefault(index, {"text": ""})["text"] += delta["text"]
        elif member == "messageStop":
            answer["stopReason"] = body["stopReason"]
        elif member == "metadata":
            answer.update(body)
    for index, raw_input in tool_inputs.items():
        try:
            parsed = json.loads(raw_input or "{}")
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            blocks[index]["toolUse"]["input"] = parsed
        else:
            answer["stopReason"] = "malformed_tool_use"
    content = [blocks[index] for index in sorted(blocks)]
    payload = {"output": {"message": {"role": "assistant", "content": content}}, **answer}
    exchange.send_whole(200, {"Content-Type": "application/json"}, json.dumps(payload).encode("utf-8"))


def _delta_text(body: dict[str, Any]) -> str:
    """Return the string a ``contentBlockDelta`` carries (text, reasoning text or tool input fragment)."""
    delta = body["delta"]
    if "toolUse" in delta:
        return str(delta["toolUse"]["input"])
    if "reasoningContent" in delta:
        return str(delta["reasoningContent"]["text"])
    return str(delta["text"])


def _with_delta_text(body: dict[str, Any], text: str) -> dict[str, Any]:
    """Return ``body`` carrying ``text`` instead of its own string."""
    delta = body["delta"]
    if "toolUse" in delta:
        new_delta: dict[str, Any] = {"toolUse": {"input": text}}
    elif "reasoningContent" in delta:
        new_delta = {"reasoningContent": {"text": text}}
    else:
        new_delta = {"text": text}
    return {**body, "delta": new_delta}


def _split(body: dict[str, Any], split_every: int | None) -> list[dict[str, Any]]:
    """Cut a delta into deltas of ``split_every`` characters (one delta when None)."""
    text = _delta_text(body)
    if split_every is None or len(text) <= split_every:
        return [body]
    return [_with_delta_text(body, text[at : at + split_every]) for at in range(0, len(text), split_every)]


def _cut(text: str, max_bytes: int) -> str:
    """Return the longest start of ``text`` whose UTF-8 fits in ``max_bytes`` (whole characters only)."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _injected_stream_error(faults: Faults, after_bytes: int) -> bytes:
    message = f"Emulated fault: the response stream failed after {after_bytes} bytes."
    if faults.stream_error_type == "ModelStreamError":
        return bedrock_errors.model_stream_error_event(message)
    return bedrock_errors.internal_server_event(message)
