"""`python -m agent_client "question"`: ask the deployed agent and print its answer as it streams."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError

from agent_client.api import (
    TOKEN_VARIABLE,
    ApiHttpError,
    ChatCall,
    ClientFailure,
    api_url_from_stack,
    bearer,
    chat_url,
    cloudformation_client,
    default_stack_name,
    encode_body,
    given_token,
    region_from_url,
    sign,
)
from agent_client.sse import Event

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_CLIENT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """Define the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m agent_client",
        description="Ask the agent a question; the answer is printed as it is generated, tool calls inline.",
    )
    parser.add_argument("prompt", help="the question")
    parser.add_argument("--session", metavar="ID", help="continue (or start) the conversation with this id")
    parser.add_argument("--env", default="dev", help="deployment environment, names the stack (default: dev)")
    parser.add_argument("--stack-name", help="CloudFormation stack (default: SageMakerAgent-<env>)")
    parser.add_argument("--url", help="API base URL; skips the stack lookup (e.g. http://127.0.0.1:8080)")
    parser.add_argument("--region", help="AWS region (default: from the URL, else your AWS configuration)")
    parser.add_argument("--profile", help="AWS profile to use")
    parser.add_argument("--max-tokens", type=int, help="cap on generated tokens (within the server's cap)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (0..2)")
    parser.add_argument("--no-sign", action="store_true", help="send the request unsigned (local API)")
    parser.add_argument(
        "--token",
        help="a Cognito access token, sent as a bearer token instead of a SigV4 signature (an api.auth: "
        f"cognito environment); default: ${TOKEN_VARIABLE}, which keeps it out of the process list",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="if the model is scaled to zero, fail at once (503 model_warming) instead of waiting for it",
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the client; returns the process exit code (0 ok, 1 the API reported an error, 2 client problem)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    token = given_token(args.token)
    try:
        call = prepare_call(args, token)
        return Renderer(out, err).render(call.events())
    except ApiHttpError as exc:
        err.write(f"error: {exc}\n")
        if exc.status == 401:
            err.write(f"{_unauthorized_hint(token)}\n")
        return EXIT_API_ERROR
    except ClientFailure as exc:
        err.write(f"error: {exc}\n")
        return EXIT_CLIENT_ERROR
    except KeyboardInterrupt:
        err.write("\ninterrupted\n")
        return EXIT_CLIENT_ERROR


def _unauthorized_hint(token: str | None) -> str:
    # API Gateway's Cognito authorizer answers 401 to a missing, expired or otherwise invalid token.
    if token is None:
        return (
            f"hint: this API wants a Cognito access token (api.auth: cognito): pass --token or set "
            f"{TOKEN_VARIABLE}"
        )
    return "hint: the access token was refused; it may have expired (Cognito's last one hour by default)"


def prepare_call(args: argparse.Namespace, token: str | None = None) -> ChatCall:
    """Resolve the URL and build the request from the arguments.

    With ``token``, the request carries it as a bearer token; otherwise it is SigV4-signed unless
    ``--no-sign``.
    """
    body: dict[str, Any] = {"prompt": args.prompt}
    if args.session:
        body["session_id"] = args.session
    if args.max_tokens is not None:
        body["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        body["temperature"] = args.temperature
    if args.no_wait:
        body["wait"] = False
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}

    session: boto3.Session | None = None
    if args.url:
        api_url = args.url
    else:
        session = _session(args)
        api_url = api_url_from_stack(
            cloudformation_client(session), args.stack_name or default_stack_name(args.env)
        )
    url = chat_url(api_url)
    if token is not None:
        headers.update(bearer(token))
    elif not args.no_sign:
        session = session or _session(args)
        region = args.region or region_from_url(url) or session.region_name
        if not region:
            raise ClientFailure("no AWS region: pass --region or configure one")
        headers = sign(session, region, url, encode_body(body), headers)
    return ChatCall(url=url, body=body, headers=headers)


def _session(args: argparse.Namespace) -> boto3.Session:
    try:
        return boto3.Session(profile_name=args.profile, region_name=args.region)
    except BotoCoreError as exc:
        raise ClientFailure(str(exc)) from exc


class Renderer:
    """Prints the answer to `out` as it arrives, tool calls inline.

    The model's reasoning, the warming progress, the summary and errors go to `err`, so `out` holds the
    answer alone.
    """

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self._line_open = False
        self._reasoning_open = False

    def render(self, events: Iterable[Event]) -> int:
        """Print every event; the exit code says whether the answer completed."""
        for event in events:
            outcome = self.show(event)
            if outcome is not None:
                return outcome
        self._end_line()
        self.err.write("error: the stream ended without a final event (connection cut?)\n")
        return EXIT_API_ERROR

    def show(self, event: Event) -> int | None:
        """Print one event; returns an exit code once the stream is over."""
        try:
            data = json.loads(event.data)
        except ValueError:
            return None
        if event.name == "reasoning":
            self._reason(str(data.get("delta", "")))
            return None
        self._end_reasoning()
        if event.name == "text":
            self._write(str(data.get("delta", "")))
        elif event.name == "status" and data.get("state") == "fallback":
            # The model has no copy in service: a fallback model answers meanwhile.
            self.err.write(f"[model starting: the fallback model {data.get('model')} answers]\n")
            self.err.flush()
        elif event.name == "status":
            # The model is scaled to zero and waking: progress, not part of the answer.
            self.err.write(f"[model {data.get('state')}: {data.get('elapsed_s')} s]\n")
            self.err.flush()
        elif event.name == "tool_use":
            self._end_line()
            self._write(f"[tool {data.get('name')} {json.dumps(data.get('input'), ensure_ascii=False)}]\n")
        elif event.name == "tool_result":
            self._write(f"[{data.get('name')} {data.get('status')}: {data.get('content')}]\n")
        elif event.name == "done":
            self._end_line()
            usage = data.get("usage", {})
            model = f", model {data['model']}" if data.get("model") else ""
            session = f", session {data['session_id']}" if data.get("session_id") else ""
            trace = f", trace {data['trace_id']}" if data.get("trace_id") else ""
            self.err.write(
                f"[{data.get('stop_reason')}: {usage.get('input_tokens')} tokens in, "
                f"{usage.get('output_tokens')} out{model}{session}{trace}]\n"
            )
            return EXIT_OK
        elif event.name == "error":
            self._end_line()
            self.err.write(f"error ({data.get('code')}): {data.get('message')}\n")
            return EXIT_API_ERROR
        return None

    def _reason(self, text: str) -> None:
        if not text:
            return
        if not self._reasoning_open:
            self.err.write("[reasoning] ")
            self._reasoning_open = True
        self.err.write(text)
        self.err.flush()

    def _end_reasoning(self) -> None:
        if self._reasoning_open:
            self.err.write("\n")
            self.err.flush()
            self._reasoning_open = False

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self._line_open = not text.endswith("\n")

    def _end_line(self) -> None:
        if self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False
