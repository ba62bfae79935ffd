"""Start real vLLM CPU on a local model through the project's own `container/serve` entrypoint.

Only what must differ on a CPU is overridden, through the same `SERVE_*` variables a user sets on the
SageMaker model (engine, model directory, device, bind address, eager mode), plus vLLM's CPU cache size.

    with VllmServer(model_dir) as server:
        httpx.post(f"{server.base_url}/invocations", json=...)

CLI: `python -m local.vllm_server --model-dir DIR [--port N]` runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Final

from local.lifecycle import Service
from local.server_process import ServerProcess
from stacks.inference.serving_contract import serving

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
SERVE_SCRIPT: Final = REPO_ROOT / "container" / "serve"
DEFAULT_VENV: Final = REPO_ROOT / ".venv-vllm"
DEFAULT_STARTUP_TIMEOUT: Final = 300.0
STOP_GRACE_SECONDS: Final = 30.0
#: vLLM CPU's KV cache in GiB (its default, 4, is more than the tiny model needs).
CPU_KVCACHE_GIB: Final = "1"
_LOG_TAIL_LINES: Final = 40


class VllmServerError(RuntimeError):
    """vLLM did not start, died, or missed the `/ping` deadline; the message ends with its last log lines."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class VllmServer(Service):
    """A vLLM CPU server on 127.0.0.1 serving `model_dir` as model `model`, started by `container/serve`."""

    def __init__(
        self,
        model_dir: str | Path,
        port: int | None = None,
        *,
        venv: str | Path = DEFAULT_VENV,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        profile: str | None = None,
    ) -> None:
        self.model_dir = Path(model_dir).resolve()
        self.profile = profile
        """The model profile (`SERVE_MODEL_PROFILE`: the engine's tool-call and reasoning parsers), or None
        for the default (`llama3`)."""
        self.port = free_port() if port is None else port
        self.venv = Path(venv)
        self.startup_timeout = startup_timeout
        self._server: ServerProcess | None = None

    @property
    def base_url(self) -> str:
        """Base URL of the server, e.g. `http://127.0.0.1:8080` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path | None:
        """The file the server's output goes to while it runs."""
        return None if self._server is None else self._server.log_file

    def start(self) -> None:
        """Start the server and return once `/ping` answers 200; `VllmServerError` otherwise."""
        if self._server is not None:
            raise VllmServerError("this VllmServer is already started")
        if not any(self.venv.glob("lib/python3*/site-packages/vllm/entrypoints/openai/api_server.py")):
            raise VllmServerError(
                f"no vLLM in {self.venv}: create it with `python3 -m venv {self.venv} && "
                f"{self.venv}/bin/pip install --no-deps -r {REPO_ROOT / 'local' / 'requirements-vllm.txt'}`"
            )
        if not (self.model_dir / "config.json").is_file():
            raise VllmServerError(
                f"{self.model_dir} has no config.json (build one with: python -m local.tiny_model DIR)"
            )
        handle, name = tempfile.mkstemp(prefix="vllm-server-", suffix=".log")
        os.close(handle)
        self._server = ServerProcess(
            name="vLLM",
            argv=[str(SERVE_SCRIPT)],
            env=self._environment(),
            log_file=Path(name),
            ready_url=f"{self.base_url}/ping",
            startup_timeout=self.startup_timeout,
            stop_grace=STOP_GRACE_SECONDS,
            error=VllmServerError,
            log_tail_lines=_LOG_TAIL_LINES,
        )
        try:
            self._server.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server and every process it started: SIGTERM the group, SIGKILL after a grace period."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            server.stop()
        finally:
            server.log_file.unlink(missing_ok=True)

    @property
    def running(self) -> bool:
        """Whether the server process is started and has not exited."""
        return self._server is not None and self._server.running

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last `lines` lines of the server's output."""
        return "" if self._server is None else self._server.log_tail(lines)

    def _environment(self) -> dict[str, str]:
        # The user's own SERVE_* variables and Python paths must not leak into a reproducible local server.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(serving.VARIABLE_PREFIX) and key not in {"PYTHONPATH", "PYTHONHOME"}
        }
        env.update(
            {
                "PATH": f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                "VIRTUAL_ENV": str(self.venv),
                serving.SERVE_ENGINE: "vllm",
                serving.SERVE_MODEL_DIR: str(self.model_dir),
                serving.SERVE_DEVICE: "cpu",
                serving.SERVE_HOST: "127.0.0.1",
                serving.SERVE_PORT: str(self.port),
                # torch.compile adds about 20 s to a CPU start and buys nothing for a one-layer model.
                serving.SERVE_EXTRA_ARGS: "--enforce-eager",
                "VLLM_CPU_KVCACHE_SPACE": env.get("VLLM_CPU_KVCACHE_SPACE", CPU_KVCACHE_GIB),
                "VLLM_NO_USAGE_STATS": "1",
                "HF_HUB_OFFLINE": "1",
            }
        )
        if self.profile is not None:
            env[serving.SERVE_MODEL_PROFILE] = self.profile
        return env


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Stop the CLI on SIGTERM and SIGINT alike."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run vLLM CPU on a model directory until Ctrl-C or SIGTERM; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m local.vllm_server", description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="model directory (config, weights)")
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="virtualenv that has vllm-cpu")
    parser.add_argument("--startup-timeout", type=float, default=DEFAULT_STARTUP_TIMEOUT, help="seconds")
    args = parser.parse_args(argv)
    server = VllmServer(args.model_dir, args.port, venv=args.venv, startup_timeout=args.startup_timeout)
    # Explicit handlers: a process started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    started = time.monotonic()
    try:
        server.start()
        print(f"vLLM ready at {server.base_url} after {time.monotonic() - started:.1f} s", flush=True)
        print(f"its log: {server.log_file} (Ctrl-C stops it)", flush=True)
        while server.running:
            time.sleep(0.5)
        print(f"vLLM exited on its own:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except VllmServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
