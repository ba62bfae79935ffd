"""``python -m sagemaker_provider capture|replay``: record a real endpoint's raw stream, replay it offline.

``capture`` writes the raw response body (the ``PayloadPart`` bytes concatenated) of one request to stdout;
``replay`` prints the Strands stream events the provider yields for such a body, one JSON object per line, and
exits with status 1 and the typed error on a broken stream. With ``--request FILE`` (the JSON body that was
sent, e.g. a fixture's ``*.request.json``), the body is read as the answer to that request, with the tools it
offered; with ``--text-tool-calls SYNTAX`` too, tool calls written in the text in that syntax become calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

from .formats import ModelRequest, ResponseParser, format_names, get_format
from .text_tool_calls import SYNTAXES, TextToolCallSyntax


def capture(args: argparse.Namespace) -> bytes:
    """Send one prompt to an endpoint (streaming) and return the raw response body."""
    from . import transport
    from .model import SageMakerModel

    config: dict[str, Any] = {"endpoint_name": args.endpoint, "response_format": args.format}
    if args.region:
        config["region_name"] = args.region
    if args.endpoint_url:
        config["endpoint_url"] = args.endpoint_url
    if args.max_tokens:
        config["params"] = {"max_tokens": args.max_tokens}
    model = SageMakerModel(**config)
    request = model.build_request(
        [{"role": "user", "content": [{"text": args.prompt}]}], system_prompt=args.system
    )
    chunks: list[bytes] = []
    try:
        response = model.client.invoke_endpoint_with_response_stream(**request)
        for event in response["Body"]:
            if "PayloadPart" in event:
                chunks.append(event["PayloadPart"]["Bytes"])
    except Exception as error:
        raise transport.translate_error(error) from error
    return b"".join(chunks)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m sagemaker_provider", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cap = commands.add_parser("capture", help="save a real endpoint's raw response body to stdout")
    cap.add_argument("--endpoint", required=True, help="SageMaker endpoint name")
    cap.add_argument("--region", help="AWS region (default: boto3's chain)")
    cap.add_argument(
        "--endpoint-url", help="SageMaker runtime URL (default: AWS, or AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME)"
    )
    cap.add_argument("--prompt", required=True, help="the user message")
    cap.add_argument("--system", help="system prompt")
    cap.add_argument("--max-tokens", type=int, help="max_tokens to request")
    cap.add_argument(
        "--format", default="auto", choices=format_names(), help="request format (default: auto)"
    )
    rep = commands.add_parser("replay", help="print the Strands events for a saved body, one JSON per line")
    rep.add_argument("file", type=Path, help="raw response body file")
    rep.add_argument(
        "--format", default="auto", choices=format_names(), help="response format (default: auto)"
    )
    rep.add_argument("--request", type=Path, help="the JSON request body the response answers (its tools)")
    rep.add_argument(
        "--text-tool-calls",
        choices=SYNTAXES,
        help="with --request: read tool calls left in the text in this model family's syntax (default: none)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "capture":
            sys.stdout.buffer.write(capture(args))
            sys.stdout.buffer.flush()
            return 0
        body = args.file.read_bytes()
        request = None
        if args.request is not None:
            request = request_from_body(args.request.read_bytes(), args.text_tool_calls or False)
        reader = ResponseParser(get_format(args.format), request=request)
        # Events before an error are printed before it is reported, as the provider yields them.
        _print(reader.feed(body))
        _print(reader.finish())
    except BrokenPipeError:
        # The reader stopped early (`replay FILE | head`): nothing is wrong with the stream. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a CLI reports every failure by its type and message, never a traceback
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


def request_from_body(
    body: bytes, text_tool_calls: TextToolCallSyntax | Literal[False] = False
) -> ModelRequest:
    """Return the model request a recorded chat completions body stands for (its tools and tool choice).

    ``text_tool_calls`` is the provider's setting of that name: the tool-call syntax read from the text.

    Raises:
        ValueError: The body is not a JSON object, or its ``tools`` are not OpenAI function tools.

    """
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("the request body is not a JSON object")
    tools = value.get("tools") or []
    if not isinstance(tools, list):
        raise ValueError("the request body's 'tools' is not a list")
    specs: list[Any] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ValueError(f"the request body has a tool that is not an OpenAI function tool: {tool!r}")
        specs.append(
            {
                "name": function["name"],
                "description": function.get("description", ""),
                "inputSchema": {"json": function.get("parameters", {})},
            }
        )
    return ModelRequest(
        messages=[],
        tool_specs=specs or None,
        stream=bool(value.get("stream", True)),
        text_tool_calls=text_tool_calls,
    )


def _print(events: list[Any]) -> None:
    for event in events:
        print(json.dumps(event, ensure_ascii=False))
