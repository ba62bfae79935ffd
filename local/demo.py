"""``python -m local.demo``: the whole stack on this machine, one prompt that makes the agent call a tool.

It builds the tiny model, starts vLLM CPU, the SageMaker-runtime emulator, S3 (moto) and the agent API,
sends the prompt, prints the streamed events as they arrive, and stops everything (no process is left).
The exit code is 0 only if the agent called a tool, got its result and finished its answer. With ``--cold``
the model starts scaled to zero: the agent API wakes it and streams its warming status before the answer.
"""

import argparse
import json
import sys
import time
from typing import Any, Final, TextIO

import httpx
from httpx_sse import connect_sse

from local.stack import EXAMPLE_PROMPT, LocalDeployment, StackError, stop_on_sigterm

REQUEST_TIMEOUT: Final = httpx.Timeout(10.0, read=120.0)
COLD_START_SECONDS: Final = 20.0
"""How long the scaled-to-zero model of ``--cold`` takes to wake (minutes on AWS)."""


class DemoFailedError(Exception):
    """The agent's answer was not the expected one: an error event, no tool call, or no end."""


def run_prompt(agent_url: str, prompt: str, out: TextIO) -> None:
    """POST ``prompt`` to ``/chat`` and print each event as it arrives (``DemoFailedError`` on failure)."""
    saw_tool_result = False
    saw_done = False
    mid_line = False
    started = time.monotonic()
    with (
        httpx.Client(timeout=REQUEST_TIMEOUT) as client,
        connect_sse(client, "POST", f"{agent_url}/chat", json={"prompt": prompt}) as source,
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
            elif event.event == "status":
                out.write(f"{elapsed} model {data['state']} ({data['elapsed_s']} s so far)\n")
            elif event.event == "tool_use":
                out.write(f"{elapsed} tool call   {data['name']}({json.dumps(data['input'])})\n")
            elif event.event == "tool_result":
                saw_tool_result = True
                out.write(f"{elapsed} tool result {data['name']} [{data['status']}]: {data['content']}\n")
            elif event.event == "done":
                saw_done = True
                usage = data["usage"]
                out.write(
                    f"{elapsed} done        stop_reason={data['stop_reason']} "
                    f"tokens in/out={usage['input_tokens']}/{usage['output_tokens']}\n"
                )
            elif event.event == "error":
                raise DemoFailedError(f"the agent answered with an error event: {data}")
            out.flush()
    if not saw_tool_result:
        raise DemoFailedError("the agent did not call a tool")
    if not saw_done:
        raise DemoFailedError("the stream ended without a 'done' event")


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
    args = parser.parse_args(argv)
    stop_on_sigterm()
    started = time.monotonic()
    try:
        with LocalDeployment(
            backend_url=args.backend,
            progress=lambda message: print(f"· {message}", flush=True),
            cold_start_seconds=COLD_START_SECONDS if args.cold else None,
        ) as stack:
            print(
                f"· stack ready after {time.monotonic() - started:.0f} s; "
                f"asking the agent API at {stack.agent_url}"
            )
            print(f"\n> {args.prompt}\n", flush=True)
            try:
                run_prompt(stack.agent_url, args.prompt, sys.stdout)
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
