"""The whole stack on 127.0.0.1, without AWS: model server, SageMaker-runtime emulator, S3, agent API.

    tiny model ─► vLLM CPU (container/serve)  ◄─ /invocations ─  emulator  ◄─ boto3 ─  agent API (uvicorn)
                                              moto (S3, Secrets Manager)   ◄─ boto3 ─┘  │    ▲
                                              MCP servers (--mcp)          ◄─ MCP ──────┘    └─ POST /chat

The agent API runs as in Lambda (`lambda/run.sh`, uvicorn on `agent_api.app:app`) with its
`AGENT_*` variables; botocore's standard `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` / `AWS_ENDPOINT_URL_S3` /
`AWS_ENDPOINT_URL_SECRETS_MANAGER` variables point it at the emulator and at moto's server, with dummy
credentials. `--mcp NAME=URL` connects it to MCP servers on 127.0.0.1, `--mcp example` to the project's
example server (local/tool_sources.py).

`python -m local.stack` starts it and keeps it running until Ctrl-C; `--backend URL` serves an
OpenAI-compatible server you already run instead of building the tiny model and starting vLLM. `--cold S`
serves the model as an inference component scaled to zero that takes S seconds to wake: the agent API wakes
it through the emulator's `sagemaker` calls (`AWS_ENDPOINT_URL_SAGEMAKER`), as it does on AWS. `--fallback
bedrock|endpoint` adds a fallback model on the same backend (local/fallback.py), which answers meanwhile.
"""

import argparse
import contextlib
import logging
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final, Self

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local.agent_environment import (
    COMPONENT_NAME,
    ENDPOINT_NAME,
    LOCAL_TOOLS,
    REGION,
    SESSIONS_BUCKET,
    agent_environment,
    credential_arguments,
)
from local.emulator import Emulator, Endpoint, Faults
from local.emulator.options import add_fault_arguments, faults_from_arguments
from local.fallback import LocalFallback, add_fallback_arguments, fallback_from_arguments
from local.server_process import ServerProcess
from local.tiny_model import build
from local.tool_sources import McpOption, add_mcp_argument, local_mcp_servers, unique, usage_lines
from local.vllm_server import VllmServer, VllmServerError, free_port
from stacks.agent_api.lambda_contract import contract
from stacks.inference.serving_contract import serving

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
RUN_SCRIPT: Final = REPO_ROOT / "lambda" / "run.sh"
AGENT_STARTUP_TIMEOUT: Final = 60.0
AGENT_STOP_GRACE: Final = 10.0
EXAMPLE_PROMPT: Final = "What is the weather in Paris?"

Progress = Callable[[str], None]


class StackError(RuntimeError):
    """A part of the local stack could not be started; the message says which and why."""


class LocalDeployment:
    """The deployment's parts on 127.0.0.1: vLLM CPU, the SageMaker emulator, S3 (moto) and the agent API.

    Starts every part on entering, stops all of them (no process left) on leaving.

    ``backend_url`` None builds the tiny model and starts vLLM CPU with the model ``profile`` (its tool-call
    and reasoning parsers); otherwise the emulator forwards to that URL, a server run with that profile. The
    agent reads tool calls left in the text in the profile's syntax, as a deployment does. ``tools`` sets
    ``AGENT_TOOLS`` (None keeps the agent API's default set, which lacks ``get_weather``).
    ``cold_start_seconds`` (None: a classic endpoint) serves the model as an inference component with no
    copy, a copy coming into service that long after the agent API asks for one. ``mcp`` are the MCP servers
    the agent uses (``mcp_servers`` once started: the example server's URL is known then). ``fallback`` serves
    a fallback model on the same backend, which answers while the model wakes (local/fallback.py).
    ``capture_content`` keeps prompts and answers in the turns' traces, which the agent API exports when the
    caller's environment names an OTLP endpoint (``agent_environment``).
    """

    def __init__(
        self,
        *,
        backend_url: str | None = None,
        faults: Faults | None = None,
        agent_port: int | None = None,
        emulator_port: int = 0,
        tools: str | None = LOCAL_TOOLS,
        progress: Progress | None = None,
        cold_start_seconds: float | None = None,
        profile: str = serving.DEFAULT_PROFILE,
        mcp: Sequence[McpOption] = (),
        capture_content: bool = False,
        fallback: LocalFallback | None = None,
    ) -> None:
        if cold_start_seconds is not None and cold_start_seconds < 0:
            raise ValueError(f"cold_start_seconds must be >= 0, got {cold_start_seconds}")
        self._cold_start_seconds = cold_start_seconds
        self._backend_url = backend_url
        self._faults = faults
        self._agent_port = agent_port
        self._emulator_port = emulator_port
        self._tools = tools
        self._profile = profile
        self._mcp = unique(mcp)
        self.mcp_servers: list[dict[str, Any]] = []
        self._capture_content = capture_content
        self.fallback = fallback
        self._progress = progress or (lambda message: None)
        self._exit_stack = contextlib.ExitStack()
        self._workdir: Path | None = None
        self.backend_url = ""
        self.s3_url = ""
        self._emulator: Emulator | None = None
        self._agent: AgentApiProcess | None = None

    @property
    def emulator(self) -> Emulator:
        """The running emulator (its faults can be changed while the stack runs)."""
        if self._emulator is None:
            raise RuntimeError("the local stack is not running")
        return self._emulator

    @property
    def agent_url(self) -> str:
        """Base URL of the agent API (``POST {agent_url}/chat``)."""
        return self._running_agent().base_url

    @property
    def agent_log(self) -> Path:
        """The agent API's log file (JSON lines); it is deleted when the stack stops."""
        return self._running_agent().log_file

    @property
    def traces(self) -> str:
        """Where the agent API sends its traces, in words."""
        environment = self._running_agent().environment
        if environment.get(contract.AGENT_TRACES.variable) != contract.TRACES_OTLP:
            return f"off (set {contract.OTEL_ENDPOINT_VARIABLE} to trace each turn)"
        endpoint = environment.get(contract.OTEL_TRACES_ENDPOINT_VARIABLE) or environment.get(
            contract.OTEL_ENDPOINT_VARIABLE
        )
        content = "kept" if self._capture_content else "removed"
        return f"OTLP/HTTP to {endpoint} (prompts and answers {content})"

    def agent_log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the agent API's log."""
        return self._running_agent().log_tail(lines)

    def _running_agent(self) -> "AgentApiProcess":
        if self._agent is None:
            raise RuntimeError("the local stack is not running")
        return self._agent

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self._exit_stack.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit_stack.close()

    def _start(self) -> None:
        stack = self._exit_stack
        self._workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="local-stack-")))
        if self._backend_url is None:
            self.backend_url = self._start_vllm(self._workdir / "tiny-model")
        else:
            _check_reachable(self._backend_url)
            self.backend_url = self._backend_url
        cold = self._cold_start_seconds
        component = None if cold is None else COMPONENT_NAME
        components = () if component is None else (component,)
        fallback = self.fallback
        self._emulator = stack.enter_context(
            Emulator(
                {
                    ENDPOINT_NAME: Endpoint(self.backend_url, inference_components=components),
                    **(fallback.endpoints(self.backend_url) if fallback else {}),
                },
                port=self._emulator_port,
                faults=self._faults,
                component_copies=1 if component is None else 0,
                warm_up_seconds=cold or 0.0,
                converse_models=fallback.converse_models(self.backend_url) if fallback else None,
            )
        )
        self.s3_url = stack.enter_context(moto_s3())
        self.mcp_servers = stack.enter_context(local_mcp_servers(self._mcp, self._progress))
        self._progress(
            f"starting the agent API (lambda/run.sh, uvicorn) on the emulator at {self._emulator.url}"
        )
        agent = AgentApiProcess(
            port=self._agent_port or free_port(),
            environment=agent_environment(
                self._emulator.url,
                self.s3_url,
                self._tools,
                inference_component=component,
                profile=self._profile,
                mcp_servers=self.mcp_servers,
                capture_content=self._capture_content,
                fallback=fallback,
            ),
            log_file=self._workdir / "agent-api.log",
        )
        self._agent = stack.enter_context(agent)

    def _start_vllm(self, model_dir: Path) -> str:
        self._progress(f"building the tiny model in {model_dir}")
        build(model_dir)
        self._progress("starting vLLM CPU through container/serve (about a minute on 2 cores)")
        started = time.monotonic()
        try:
            server = self._exit_stack.enter_context(VllmServer(model_dir, profile=self._profile))
        except VllmServerError as error:
            raise StackError(f"vLLM did not start: {error}") from error
        self._progress(f"vLLM ready at {server.base_url} after {time.monotonic() - started:.0f} s")
        return server.base_url


def _check_reachable(url: str) -> None:
    """Fail early, with the URL in the message, when nothing listens at ``url``."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StackError(f"--backend must be an http(s) URL with a host, got {url!r}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=5).close()
    except OSError as error:
        raise StackError(f"nothing answers at {url}: {error}") from error


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """Serve moto's S3 on a free port with the sessions bucket created; yield its URL."""
    # werkzeug would print a line per S3 request into the stack's console.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=url, region_name=REGION, **credential_arguments())
        s3.create_bucket(Bucket=SESSIONS_BUCKET)
        yield url
    finally:
        server.stop()


class AgentApiProcess(ServerProcess):
    """The agent API started by ``lambda/run.sh`` (as the Lambda Web Adapter runs it) on 127.0.0.1."""

    def __init__(self, *, port: int, environment: dict[str, str], log_file: Path) -> None:
        self.port = port
        self.environment = environment
        super().__init__(
            name="the agent API",
            argv=["/bin/sh", str(RUN_SCRIPT)],
            env={**environment, "AWS_LWA_PORT": str(port)},
            log_file=log_file,
            ready_url=f"{self.base_url}/health",
            startup_timeout=AGENT_STARTUP_TIMEOUT,
            stop_grace=AGENT_STOP_GRACE,
            error=StackError,
        )

    @property
    def base_url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.port}"


def usage_text(stack: LocalDeployment) -> str:
    """Return the URLs of the running stack and commands to try it."""
    agent = stack.agent_url
    body = f'{{"prompt": "{EXAMPLE_PROMPT}"}}'
    mcp_where, mcp_try = usage_lines(stack.mcp_servers)
    return "\n".join(
        [
            f"Chat page            {agent}/  (open it in a browser)",
            f"Agent API            {agent}  (POST /chat, GET /health, GET /status, POST /warm; "
            f"log: {stack.agent_log})",
            f"SageMaker emulator   {stack.emulator.url}  (endpoint {ENDPOINT_NAME!r})",
            *([f"Fallback model       {stack.fallback.description}"] if stack.fallback else []),
            f"Model server         {stack.backend_url}",
            f"AWS (moto)           {stack.s3_url}  (S3 bucket {SESSIONS_BUCKET!r}, Secrets Manager)",
            *mcp_where,
            f"Traces               {stack.traces}",
            "",
            "Try it:",
            f"  curl -N {agent}/chat -H 'content-type: application/json' -d '{body}'",
            f"  PYTHONPATH=client .venv/bin/python -m agent_client --url {agent} --no-sign "
            f"{EXAMPLE_PROMPT!r}",
            f"  OpenAI clients: base URL {agent}/v1, model 'agent', any API key "
            "(chat completions, responses)",
            f"  MCP clients: {agent}/mcp (the agent as an MCP server, Streamable HTTP, the tool 'ask')",
            *mcp_try,
            "",
            "Ctrl-C stops everything.",
        ]
    )


def stop_on_sigterm() -> None:
    """Make SIGTERM raise ``KeyboardInterrupt``, so that ``with LocalDeployment()`` stops every part on it."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser: the stack's options plus the emulator's fault flags."""
    parser = argparse.ArgumentParser(
        prog="python -m local.stack",
        description="Run the agent API, the SageMaker-runtime emulator, S3 (moto) and vLLM CPU on 127.0.0.1.",
    )
    parser.add_argument(
        "--backend",
        metavar="URL",
        help="an OpenAI-compatible server you already run (base URL with /invocations, or a full URL such "
        "as http://127.0.0.1:8000/v1/chat/completions); default: build the tiny model and start vLLM CPU",
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="agent API port, 0 = a free one (default: %(default)s)"
    )
    parser.add_argument("--emulator-port", type=int, default=0, help="emulator port (default: a free one)")
    parser.add_argument(
        "--tools", default=LOCAL_TOOLS, help="AGENT_TOOLS for the agent API (default: %(default)s)"
    )
    parser.add_argument(
        "--cold",
        type=float,
        metavar="S",
        help="serve the model as an inference component scaled to zero, taking S seconds to wake",
    )
    add_mcp_argument(parser)
    parser.add_argument(
        "--capture-content",
        action="store_true",
        help="keep prompts and answers in the traces (exported when OTEL_EXPORTER_OTLP_ENDPOINT is set)",
    )
    add_fallback_arguments(parser)
    add_fault_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the stack until Ctrl-C or SIGTERM; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    fallback = fallback_from_arguments(parser, args)
    try:
        stack = LocalDeployment(
            backend_url=args.backend,
            faults=faults_from_arguments(args),
            agent_port=args.port,
            emulator_port=args.emulator_port,
            tools=args.tools,
            progress=lambda message: print(f"· {message}", flush=True),
            cold_start_seconds=args.cold,
            mcp=args.mcp,
            capture_content=args.capture_content,
            fallback=fallback,
        )
    except ValueError as error:
        parser.error(str(error))

    stop_on_sigterm()
    try:
        with stack:
            print(usage_text(stack), flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 0
    except (StackError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
