"""An ``http.server`` server run from a background thread (the emulator, and the tests' scripted server)."""

import threading
from http.server import HTTPServer

from local.lifecycle import Service

POLL_INTERVAL = 0.05
"""How often ``serve_forever`` checks for shutdown: short, so that stopping is quick."""


class BackgroundServer(Service):
    """Serve ``server`` from a daemon thread named ``name``, or from the calling thread.

    ``start``/``stop`` (or a ``with`` block) run the thread; ``serve_forever`` serves in the caller's.
    """

    def __init__(self, server: HTTPServer, name: str) -> None:
        self._server = server
        self._name = name
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, ``http://host:port``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve from a daemon thread until ``stop``."""
        if self._thread is not None:
            raise RuntimeError(f"the {self._name} is already running")
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_INTERVAL,), name=self._name, daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``KeyboardInterrupt``, then close the socket."""
        try:
            self._server.serve_forever(POLL_INTERVAL)
        finally:
            self._server.server_close()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
