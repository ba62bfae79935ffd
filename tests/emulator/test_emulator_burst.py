"""A burst of connections is queued by the emulator's listening socket, not dropped."""

import socket
from contextlib import ExitStack

from local.emulator import Emulator, Endpoint

BURST = 64  # benchmarks/e2e_bench.py's concurrency


def test_a_burst_of_connections_waits_in_the_listen_queue() -> None:
    # Not serving yet: every connection can only wait in the kernel's accept queue, as they do while the
    # serving thread is busy starting the handler threads of a burst.
    emulator = Emulator({"e": Endpoint("http://127.0.0.1:9")})
    host, port = emulator.url.removeprefix("http://").split(":")
    try:
        with ExitStack() as stack:
            for _ in range(BURST):
                # A full accept queue drops the SYN: connect would time out instead of returning.
                stack.enter_context(socket.create_connection((host, int(port)), timeout=2))
    finally:
        emulator.stop()
