"""The emulator's HTTP server: its configuration and state, and which module answers each request.

- ``POST /endpoints/{name}/invocations[-response-stream]``: SageMaker runtime (``invocations``);
- ``POST /`` with ``X-Amz-Target: SageMaker.*``: the ``sagemaker`` control plane (``control_plane``);
- ``POST /model/{modelId}/converse[-stream]``: Bedrock runtime's Converse and ConverseStream (``converse``).
"""

import logging
import socket
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer

from local.emulator import control_plane, converse, errors, invocations
from local.emulator.backend import ConverseModel, Endpoint
from local.emulator.background import BackgroundServer
from local.emulator.components import InferenceComponent
from local.emulator.converse import ConverseCall
from local.emulator.exchange import ClientGoneError, Exchange
from local.emulator.faults import FaultBook, Faults
from local.emulator.invocations import Invocation

logger = logging.getLogger(__name__)

# The listen backlog: socketserver's default of 5 dropped connections of a burst (about 8 % of 64 concurrent
# streams failed) while the serving thread was still starting handler threads. The system's maximum; the
# kernel caps it at net.core.somaxconn (4096 by default since Linux 5.4).
LISTEN_BACKLOG = socket.SOMAXCONN


class Emulator(BackgroundServer):
    """An emulator serving SageMaker ``endpoints`` and Bedrock ``converse_models`` on ``host:port``.

    Port 0 picks a free one. Use it as a context manager (or ``start``/``stop``) to serve from a background
    thread, or call ``serve_forever``; ``url`` is the base URL to give boto3 as ``endpoint_url``. ``faults``
    can be replaced at any time with ``set_faults``. ``on_invocation`` is called (from the serving thread)
    with every request an invocation route reads a body for, throttled and invalid ones included: what a
    client really sent, for tests and debugging; ``on_converse`` likewise with every Converse call.

    ``converse_models`` maps each Bedrock model id (or inference profile id or ARN) the emulator answers
    Converse and ConverseStream for to the OpenAI-compatible server that generates the answers; any other
    model id is refused as Bedrock refuses an invalid model identifier.

    Every inference component of the endpoints starts with ``component_copies`` copies in service (0: scaled
    to zero, so invocations are refused until a copy is asked for), unless its endpoint says otherwise;
    copies asked for come into service ``warm_up_seconds`` later. ``components`` holds them by name.
    """

    def __init__(
        self,
        endpoints: Mapping[str, Endpoint],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        faults: Faults | None = None,
        backend_timeout: float = 60.0,
        on_invocation: Callable[[Invocation], None] | None = None,
        component_copies: int = 1,
        warm_up_seconds: float = 0.0,
        converse_models: Mapping[str, ConverseModel] | None = None,
        on_converse: Callable[[ConverseCall], None] | None = None,
    ) -> None:
        if not endpoints and not converse_models:
            raise ValueError("the emulator needs at least one endpoint or Bedrock model")
        if backend_timeout <= 0:
            raise ValueError(f"backend_timeout must be > 0, got {backend_timeout}")
        self.endpoints = dict(endpoints)
        self.region = region
        self.backend_timeout = backend_timeout
        self.fault_book = FaultBook(faults)
        self.on_invocation = on_invocation
        self.converse_models = dict(converse_models or {})
        self.on_converse = on_converse
        names = [name for endpoint in self.endpoints.values() for name in endpoint.inference_components]
        if len(set(names)) != len(names):
            raise ValueError(f"inference component names must be unique across endpoints, got {names}")
        self.components = {
            name: InferenceComponent(
                name,
                endpoint_name,
                copies=component_copies if endpoint.component_copies is None else endpoint.component_copies,
                warm_up_seconds=warm_up_seconds,
                region=region,
            )
            for endpoint_name, endpoint in self.endpoints.items()
            for name in endpoint.inference_components
        }
        super().__init__(_EmulatorHTTPServer((host, port), self), "aws-emulator")

    @property
    def faults(self) -> Faults:
        """The faults in force now for every target without faults of its own."""
        return self.fault_book.current

    def set_faults(self, faults: Faults, *, target: str | None = None) -> None:
        """Replace the faults for the requests that arrive from now on.

        ``target`` (an endpoint name or a Bedrock model id) sets faults for the requests to it alone;
        without it, ``faults`` apply to every request and replace the faults set for single targets.
        """
        self.fault_book.set(faults, target)


class _EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Log a client dropping a kept-alive connection quietly, anything else with its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.debug("connection from %s dropped: %r", client_address, error)
        else:
            logger.exception("unexpected error while serving %s", client_address)


class _Handler(Exchange):
    server: _EmulatorHTTPServer

    def do_POST(self) -> None:
        self.head_sent = False
        try:
            self._route()
        except ClientGoneError:
            self.close_connection = True
        except Exception as error:
            # A bug in the emulator: answer like AWS's own internal errors instead of dropping the connection.
            logger.exception("the emulator failed to serve %s", self.path)
            self.close_connection = True
            if not self.head_sent:
                self.send_error_response(errors.internal_failure(f"The emulator failed: {error!r}"))

    def _route(self) -> None:
        emulator = self.server.emulator
        path = urllib.parse.urlsplit(self.path).path
        if path == "/" and "X-Amz-Target" in self.headers:
            control_plane.serve(self, emulator.components, emulator.region)
            return
        if match := invocations.ROUTE.match(path):
            if (body := self.read_body()) is not None:
                endpoint_name = urllib.parse.unquote(match["name"])
                stream = match["operation"] == invocations.STREAM_OPERATION
                invocations.serve(self, emulator, endpoint_name, stream, body)
        elif match := converse.ROUTE.match(path):
            if (body := self.read_body()) is not None:
                model_id = urllib.parse.unquote(match["model"])
                stream = match["operation"] == converse.STREAM_OPERATION
                converse.serve(self, emulator, model_id, stream, body)
        else:
            self._unknown_operation()

    def _unknown_operation(self) -> None:
        self.head_sent = False
        self.refuse(errors.ErrorResponse(404, "UnknownOperationException", {"message": "Not Found"}))

    # The emulated APIs have POST operations only.
    do_GET = do_PUT = do_DELETE = do_PATCH = _unknown_operation
