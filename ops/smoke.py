"""Check a deployed environment end to end: ``python -m ops.smoke --env dev`` (``make smoke ENV=dev``).

1. ``POST /chat`` (SigV4-signed, or with a Cognito access token where the environment uses ``api.auth:
   cognito``: ``--token`` or ``$COGNITO_ACCESS_TOKEN``, else one from the machine client's credentials;
   unsigned when the API is local) streams text in more than one event and ends with ``done``; the time to
   the first text and the total time are printed. A model scaled to zero is woken by this request.
2. The endpoint (its inference component, in that mode), invoked directly with a tool-offering request,
   answers with a tool call that the project's provider (``lambda/sagemaker_provider``) parses.

The endpoint, its component and the chat URL come from the stack's outputs, or from
``--url``/``--endpoint-url`` for the local stack (``python -m local.stack`` prints both); a failure names the
model's log group (the ``ModelLogGroup`` output). Run with ``lambda`` and ``client`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from ops.environment import load_environment
from ops.results import Result, report
from stacks.agent_api.lambda_contract import contract
from stacks.config import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

PROMPT = "What is the weather in Paris?"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "inputSchema": {
        "json": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city"}},
            "required": ["city"],
        }
    },
}
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class MachineClient:
    """A Cognito app client that gets access tokens with client credentials (``api.auth: cognito``)."""

    user_pool_id: str
    client_id: str
    token_url: str


@dataclass(frozen=True)
class Target:
    """What smoke talks to: the endpoint (through ``endpoint_url`` when local) and the agent API."""

    endpoint_name: str
    chat_url: str
    region: str
    endpoint_url: str | None = None
    # Set for a Cognito environment: /chat then takes its access token instead of a SigV4 signature.
    machine_client: MachineClient | None = None
    # Set in inference-component mode: invocations name the component, which logs to its own group.
    inference_component_name: str | None = None
    # Where the serving container logs (the stack's ModelLogGroup output).
    log_group: str | None = None

    @property
    def signed(self) -> bool:
        """Whether ``/chat`` needs SigV4 (every API but one on this machine)."""
        return urlsplit(self.chat_url).hostname not in _LOCAL_HOSTS and self.machine_client is None


def target_from_stack(cloudformation: CloudFormationClient, stack_name: str, region: str) -> Target:
    """Return the endpoint and chat URL of the stack's outputs, and its machine client if it uses Cognito."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o.get("OutputKey"): o.get("OutputValue") for o in stacks[0].get("Outputs", [])}
    # A Cognito environment (api.auth: cognito) also outputs its user pool and machine client.
    cognito = ("UserPoolId", "MachineClientId", "TokenUrl") if outputs.get("UserPoolId") else ()
    missing = [key for key in ("EndpointName", "ChatUrl", *cognito) if not outputs.get(key)]
    if missing:
        raise LookupError(f"stack {stack_name} has no {' or '.join(missing)} output (deployed?)")
    machine_client = MachineClient(*(str(outputs[key]) for key in cognito)) if cognito else None
    return Target(
        str(outputs["EndpointName"]),
        str(outputs["ChatUrl"]),
        region,
        machine_client=machine_client,
        inference_component_name=outputs.get("InferenceComponentName"),
        log_group=outputs.get("ModelLogGroup"),
    )


def access_token(cognito: CognitoIdentityProviderClient, client: MachineClient) -> str:
    """Get an access token for the API's scope with the machine client's id and secret (client credentials).

    The secret is read from Cognito (``DescribeUserPoolClient``) and sent to the token endpoint as HTTP
    Basic authentication (https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html).
    """
    described = cognito.describe_user_pool_client(UserPoolId=client.user_pool_id, ClientId=client.client_id)
    secret = described["UserPoolClient"].get("ClientSecret", "")
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 (the stack's own https token URL, or a test's)
        client.token_url,
        data=urlencode({"grant_type": "client_credentials", "scope": contract.COGNITO_API_SCOPE}).encode(),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TOKEN_TIMEOUT_SECONDS) as response:  # noqa: S310
            return str(json.loads(response.read())["access_token"])
    except urllib.error.HTTPError as error:
        raise RuntimeError(
            f"the token endpoint {client.token_url} refused client credentials: HTTP {error.code} "
            f"{error.read().decode(errors='replace')}"
        ) from error


async def _tool_calls(model: Any) -> list[tuple[str, dict[str, Any]]]:
    """Stream one tool-offering turn through the provider; the tool calls it parsed (name, input)."""
    messages = [{"role": "user", "content": [{"text": PROMPT}]}]
    calls: list[tuple[str, str]] = []
    async for event in model.stream(messages, [WEATHER_TOOL]):
        start = event.get("contentBlockStart", {}).get("start", {}).get("toolUse")
        if start is not None:
            calls.append((start["name"], ""))
        delta = event.get("contentBlockDelta", {}).get("delta", {}).get("toolUse")
        if delta is not None and calls:
            name, text = calls[-1]
            calls[-1] = (name, text + delta.get("input", ""))
    return [(name, json.loads(text or "{}")) for name, text in calls]


def check_endpoint(target: Target, runtime: SageMakerRuntimeClient) -> Result:
    """Invoke the endpoint with the weather tool offered; the provider must parse a ``get_weather`` call."""
    from sagemaker_provider import SageMakerModel

    component = target.inference_component_name
    where = target.endpoint_name if component is None else f"{target.endpoint_name} (component {component})"
    name = f"endpoint {where} answers a tool-offering request with a parsed tool call"
    model = SageMakerModel(
        client=runtime,
        endpoint_name=target.endpoint_name,
        inference_component_name=component,
        params={"max_tokens": 256},
    )
    started = time.monotonic()
    try:
        calls = asyncio.run(_tool_calls(model))
    except Exception as error:
        # Whatever the provider or the endpoint raised is the finding to report.
        return Result(name, f"{type(error).__name__}: {error}", _logs_hint(target))
    elapsed = time.monotonic() - started
    if not any(call_name == WEATHER_TOOL["name"] for call_name, _ in calls):
        found = ", ".join(call_name for call_name, _ in calls) or "none"
        return Result(name, f"no get_weather call in the answer (tool calls: {found})", _logs_hint(target))
    arguments = next(args for call_name, args in calls if call_name == WEATHER_TOOL["name"])
    return Result(f"{name}: get_weather({json.dumps(arguments)}) in {elapsed:.1f} s")


@dataclass(frozen=True)
class ChatTiming:
    """What ``/chat`` streamed: text events, whether ``done`` ended it, and when things arrived."""

    text_events: int
    done: bool
    first_text_seconds: float | None
    total_seconds: float
    error: str | None = None


def measure_chat(events: Iterable[Any], clock: Callable[[], float] = time.monotonic) -> ChatTiming:
    """Read an event stream (``name``/``data`` events) to its end, timing the first text and the whole."""
    started = clock()
    texts, first, done, error = 0, None, False, None
    for event in events:
        if done:
            error = f"event {event.name!r} after done"
            break
        if event.name == "text":
            texts += 1
            first = first if first is not None else clock() - started
        elif event.name == "done":
            done = True
        elif event.name == "error":
            error = f"the API sent an error event: {event.data}"
            break
    return ChatTiming(texts, done, first, clock() - started, error)


def check_chat(target: Target, events: Callable[[], Iterator[Any]]) -> Result:
    """``POST /chat`` streams text in more than one event and ends with ``done``; report the timings."""
    name = f"POST {target.chat_url} streams the answer"
    try:
        timing = measure_chat(events())
    except Exception as error:
        # Whatever the client, HTTP or the stream raised is the finding to report.
        return Result(name, f"{type(error).__name__}: {error}", _logs_hint(target))
    if timing.error is not None:
        return Result(name, timing.error, _logs_hint(target))
    if not timing.done:
        return Result(name, "the stream ended without a done event", _logs_hint(target))
    if timing.text_events < 2:
        return Result(name, f"the answer came in {timing.text_events} text event(s), not incrementally")
    assert timing.first_text_seconds is not None
    return Result(
        f"{name}: {timing.text_events} text events, first text after {timing.first_text_seconds:.2f} s, "
        f"done after {timing.total_seconds:.2f} s"
    )


def _logs_hint(target: Target) -> str:
    if target.endpoint_url is not None:
        return "read the local stack's output (python -m local.stack)"
    log_group = target.log_group or f"/aws/sagemaker/Endpoints/{target.endpoint_name}"
    return (
        f"aws logs tail {log_group} --since 30m --region {target.region}"
        " (and the agent function's log group in the stack)"
    )


def chat_events(target: Target, session: Any, token: str | None = None) -> Iterator[Any]:
    """Send the smoke prompt to ``/chat``; yield its events as they arrive.

    With ``token`` (an access token the caller gave), the request carries it; otherwise it is authenticated
    the target's way: a token from the machine client (Cognito), SigV4, or nothing (a local API).
    """
    from agent_client.api import ChatCall, bearer, encode_body, sign

    body = {"prompt": PROMPT}
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if token is None and target.machine_client is not None:
        token = access_token(session.client("cognito-idp", region_name=target.region), target.machine_client)
    if token is not None:
        headers.update(bearer(token))
    elif target.signed:
        headers = sign(session, target.region, target.chat_url, encode_body(body), headers)
    return ChatCall(url=target.chat_url, body=body, headers=headers).events()


def main(argv: list[str] | None = None) -> int:
    """Smoke-test one environment (or the local stack); 0 when both checks passed."""
    from agent_client.api import TOKEN_VARIABLE, given_token

    parser = argparse.ArgumentParser(prog="python -m ops.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev", help="environment of cdk.json (default: dev)")
    parser.add_argument(
        "--url", help="the agent API's base URL instead of the stack's (e.g. the local stack)"
    )
    parser.add_argument("--endpoint-url", help="SageMaker runtime URL to use with --url (the local emulator)")
    parser.add_argument("--endpoint-name", help="endpoint name to use with --url")
    parser.add_argument(
        "--token",
        help="a Cognito access token for /chat instead of SigV4 or the machine client's (api.auth: cognito); "
        f"default: ${TOKEN_VARIABLE}, which keeps it out of the process list",
    )
    args = parser.parse_args(argv)
    token = given_token(args.token)
    import boto3

    if args.url:
        if not (args.endpoint_url and args.endpoint_name):
            parser.error("--url needs --endpoint-url and --endpoint-name (python -m local.stack prints them)")
        target = Target(args.endpoint_name, args.url.rstrip("/") + "/chat", "us-east-1", args.endpoint_url)
        # The local emulator checks no signature, but botocore signs every request: any key will do.
        local = urlsplit(args.endpoint_url).hostname in _LOCAL_HOSTS
        keys = {"aws_access_key_id": "local", "aws_secret_access_key": "local"} if local else {}
        session = boto3.session.Session(region_name=target.region, **keys)
    else:
        try:
            config = load_environment(args.env)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        session = boto3.session.Session(region_name=config.region)
        region = session.region_name
        if region is None:
            print(
                "error: no AWS region: set AWS_DEFAULT_REGION or the environment's region in cdk.json",
                file=sys.stderr,
            )
            return 2
        try:
            target = target_from_stack(session.client("cloudformation"), config.stack_name, region)
        except (ClientError, BotoCoreError, LookupError) as error:
            print(f"error: cannot read the stack's outputs: {error}", file=sys.stderr)
            return 2
    runtime = session.client("sagemaker-runtime", endpoint_url=target.endpoint_url)
    print(f"Smoke test of {target.endpoint_name} and {target.chat_url}")
    # /chat first: in an environment scaled to zero it wakes the model and waits for it, so the direct
    # invocation after it finds a copy in service.
    results = (
        check_chat(target, lambda: chat_events(target, session, token)),
        check_endpoint(target, runtime),
    )
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
