"""``python -m local.demo``: the whole stack on this machine, one prompt that makes the agent call a tool.

It builds the tiny model, starts vLLM CPU, the SageMaker-runtime emulator, S3 (moto) and the agent API,
sends the prompt, prints the streamed events as they arrive, and stops everything (no process is left).
The exit code is 0 only if the agent called a tool, got its result and finished its answer. With ``--cold``
the model starts scaled to zero: the agent API wakes it and streams its warming status before the answer.
With ``--fallback`` too, a fallback model answers at once while the model wakes; the demo then waits for the
model and asks again on the same session, answered by the model itself (exit code 0 only if each answer
names the model it expects).
"""

import argparse
import json
import sys
import time
from typing import Any, Final, TextIO

import httpx
from httpx_sse import connect_sse

from local.agent_environment import COMPONENT_NAME, ENDPOINT_NAME
from local.fallback import KINDS as FALLBACK_KINDS
from local.fallback import LocalFallback
from local.stack import EXAMPLE_PROMPT, LocalDeployment, StackError, stop_on_sigterm
from stacks.agent_api.lambda_contract import contract, fallback_settings

REQUEST_TIMEOUT: Final = httpx.Timeout(10.0, read=120.0)
COLD_START_SECONDS: Final = 20.0
"""How long the scaled-to-zero model of ``--cold`` takes to wake (minutes on AWS)."""
SESSION_ID: Final = "demo"
NEXT_PROMPT: Final = "And what about tomorrow?"
OWN_MODEL: Final = fallback_settings.endpoint_model_name(ENDPOINT_NAME, COMPONENT_NAME)
STATUS_POLL_SECONDS: Final = 2.0


class DemoFailedError(Exception):
    """The agent's answer was not the expected one: an error event, no tool call, or no end."""


def run_prompt(
    agent_url: str, prompt: str, out: TextIO, session_id: str | None = None, *, expect_tool: bool = True
) -> str:
    """POST ``prompt`` to ``/chat``, print each event as it arrives; return the model that answered.

    Raises:
        DemoFailedError: an error event, no tool call (when ``expect_tool``), or no end.

    """
    saw_tool_result = False
    done_model: str | None = None
    mid_line = False
    started = time.monotonic()
    body = {"prompt": prompt, "session_id": session_id}
    with (
        httpx.Client(timeout=REQUEST_TIMEOUT) as client,
        connect_sse(client, "POST", f"{agent_url}{contract.CHAT_PATH}", json=body) as source,
    ):
        if source.response.status_code != 200:
            raise DemoFailedError(
                f"/chat answered HTTP {source.response.status_code}: {source.response.read()!r}"
            )
        for event in source.iter_sse():
            data: dict[str, Any] = json.loads(event.data)
            elapsed = f"[{time.monotonic() - started:6.3f} s]"
            if event.event != "text" and mid_line:
                out.write("\n")
            mid_line = event.event == "text"
            if event.event == "text":
                out.write(data["delta"])
            elif event.event == "status" and data["state"] == "fallback":
                out.write(f"{elapsed} model waking: the fallback model {data['model']} answers meanwhile\n")
            elif event.event == "status":
                out.write(f"{elapsed} model {data['state']} ({data['elapsed_s']} s so far)\n")
            elif event.event == "tool_use":
                out.write(f"{elapsed} tool call   {data['name']}({json.dumps(data['input'])})\n")
            elif event.event == "tool_result":
                saw_tool_result = True
                out.write(f"{elapsed} tool result {data['name']} [{data['status']}]: {data['content']}\n")
            elif event.event == "done":
                done_model = str(data["model"])
                usage = data["usage"]
                out.write(
                    f"{elapsed} done        model={done_model} stop_reason={data['stop_reason']} "
                    f"tokens in/out={usage['input_tokens']}/{usage['output_tokens']}\n"
                )
            elif event.event == "error":
                raise DemoFailedError(f"the agent answered with an error event: {data}")
            out.flush()
    if expect_tool and not saw_tool_result:
        raise DemoFailedError("the agent did not call a tool")
    if done_model is None:
        raise DemoFailedError("the stream ended without a 'done' event")
    return done_model


def wait_for_the_model(agent_url: str, out: TextIO) -> None:
    """Poll ``GET /status`` until the model has a copy in service, printing the wait."""
    started = time.monotonic()
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        while (state := client.get(f"{agent_url}{contract.STATUS_PATH}").json()["state"]) != "in_service":
            if time.monotonic() - started > COLD_START_SECONDS * 3:
                raise DemoFailedError(f"the model is still {state} after {time.monotonic() - started:.0f} s")
            time.sleep(STATUS_POLL_SECONDS)
    out.write(f"\n· the model is in service after {time.monotonic() - started:.0f} s more\n")


def run_fallback_demo(agent_url: str, fallback: LocalFallback, prompt: str, out: TextIO) -> None:
    """Ask with the model asleep (the fallback answers), wait for it, ask again on the same session."""
    answered_by = run_prompt(agent_url, prompt, out, SESSION_ID)
    if answered_by != fallback.name:
        raise DemoFailedError(f"the first answer came from {answered_by}, not the fallback {fallback.name}")
    wait_for_the_model(agent_url, out)
    out.write(f"\n> {NEXT_PROMPT}\n\n")
    # The tiny model answers from the weather the session already holds, without calling the tool again.
    answered_by = run_prompt(agent_url, NEXT_PROMPT, out, SESSION_ID, expect_tool=False)
    if answered_by != OWN_MODEL:
        raise DemoFailedError(f"the next answer came from {answered_by}, not the model {OWN_MODEL}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return 0 on success, 1 on failure."""
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--prompt", default=EXAMPLE_PROMPT, help="the prompt (default: %(default)r)")
    parser.add_argument("--backend", metavar="URL", help="use this model server instead of starting vLLM CPU")
    parser.add_argument(
        "--cold",
        action="store_true",
        help=f"start with the model scaled to zero; it wakes in {COLD_START_SECONDS:.0f} s when asked",
    )
    parser.add_argument(
        "--fallback",
        choices=FALLBACK_KINDS,
        help="with --cold: a fallback model (Bedrock's Converse, or a second endpoint) answers at once while "
        "the model wakes, and the next turn is the model's own",
    )
    args = parser.parse_args(argv)
    if args.fallback is not None and not args.cold:
        parser.error("--fallback needs --cold: the fallback answers while the model wakes from zero")
    fallback = None if args.fallback is None else LocalFallback(args.fallback)
    stop_on_sigterm()
    started = time.monotonic()
    try:
        with LocalDeployment(
            backend_url=args.backend,
            progress=lambda message: print(f"· {message}", flush=True),
            cold_start_seconds=COLD_START_SECONDS if args.cold else None,
            fallback=fallback,
        ) as stack:
            print(
                f"· stack ready after {time.monotonic() - started:.0f} s; "
                f"asking the agent API at {stack.agent_url}"
            )
            print(f"\n> {args.prompt}\n", flush=True)
            try:
                if fallback is None:
                    run_prompt(stack.agent_url, args.prompt, sys.stdout)
                else:
                    run_fallback_demo(stack.agent_url, fallback, args.prompt, sys.stdout)
            except (DemoFailedError, httpx.HTTPError):
                print(f"\n· the agent API's last log lines:\n{stack.agent_log_tail()}", file=sys.stderr)
                raise
            print("\n· stopping everything", flush=True)
    except (StackError, DemoFailedError, httpx.HTTPError, OSError) as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(f"· demo finished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
