"""A local server run in its own process group: started, waited for until healthy, stopped leaving nothing.

Used for vLLM (`local.vllm_server`) and the agent API (`local.stack`), so both start, report a failed start
(with the server's last log lines) and stop (SIGTERM to the whole group, SIGKILL after a grace period) alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from pathlib import Path

from local.lifecycle import Service


class ServerProcess(Service):
    """One server process and every process it starts, with its output in `log_file`.

    `error` is the exception type raised when the server exits while starting or misses `startup_timeout`;
    its message names the server (`name`), says what happened and ends with the server's last log lines.
    """

    def __init__(
        self,
        *,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_file: Path,
        ready_url: str,
        startup_timeout: float,
        stop_grace: float,
        error: type[Exception],
        log_tail_lines: int = 30,
    ) -> None:
        self.name = name
        self.log_file = log_file
        self.ready_url = ready_url
        self._argv = argv
        self._env = env
        self._startup_timeout = startup_timeout
        self._stop_grace = stop_grace
        self._error = error
        self._log_tail_lines = log_tail_lines
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the process is started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and return once `ready_url` answers 200; stop it and raise `error` otherwise."""
        if self._process is not None:
            raise self._error(f"{self.name} is already started")
        with self.log_file.open("wb") as log:
            # A new session gives the server its own process group, so stop() reaches its workers too.
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                self._argv,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready(self._process)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after the grace period; return when no process is left."""
        process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=self._stop_grace)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        _wait_for_group_exit(process.pid, timeout=self._stop_grace)

    def log_tail(self, lines: int | None = None) -> str:
        """Return the last lines of the server's output."""
        if not self.log_file.exists():
            return ""
        with self.log_file.open(encoding="utf-8", errors="replace") as log:
            return "".join(deque(log, maxlen=lines or self._log_tail_lines))

    def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            code = process.poll()
            if code is not None:
                raise self._error(f"{self.name} exited with code {code} while starting:\n{self.log_tail()}")
            if http_ok(self.ready_url):
                return
            if time.monotonic() > deadline:
                path = urllib.parse.urlsplit(self.ready_url).path
                waited = f"{self._startup_timeout:.0f} s"
                raise self._error(f"{self.name} did not answer {path} within {waited}:\n{self.log_tail()}")
            time.sleep(0.2)


def http_ok(url: str) -> bool:
    """Whether a GET of `url` answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a local http URL we built
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _wait_for_group_exit(pgid: int, timeout: float) -> None:
    """Wait until no process of the group is left (workers may outlive the group leader briefly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    _signal_group(pgid, signal.SIGKILL)
