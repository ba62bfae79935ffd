"""Calling SageMaker without blocking the event loop, and turning its errors into the provider's.

boto3 is synchronous, so a worker thread runs the invocation and reads the event stream, handing each
``PayloadPart``'s bytes to the event loop. Two measured choices keep that cheap:

- The reader wakes the loop only when the consumer is waiting, so a fast stream costs one wake-up per
  batch of parts, not one per part. Waking it per part (an ``asyncio.Queue`` fed by
  ``call_soon_threadsafe``) costs 1.4x the CPU per chunk of ``SageMakerModel.stream`` (7.3 instead of
  5.1 us, ``benchmarks/parser_bench.py``).
- Reader threads are kept between streams (:class:`ReaderThreads`). A new thread per stream costs 1.2x the
  CPU per chunk on the short recorded streams (``parser_bench.py``) and 2-4 ms more time to the first
  token through the agent API (``benchmarks/e2e_bench.py``, median of two interleaved runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import queue
import socket
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ConnectTimeoutError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import ReadTimeoutError as BotocoreReadTimeoutError
from strands.types.exceptions import ContextWindowOverflowException, ModelThrottledException
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from .errors import (
    EndpointConnectionError,
    EndpointInvocationError,
    EndpointTimeoutError,
    ModelNotReadyError,
    ModelStreamError,
    is_context_overflow,
    is_no_capacity,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceQuotaExceededException",
        "ProvisionedThroughputExceededException",
        # A serverless variant still provisioning or a multi-model endpoint still loading: "try again",
        # which the agent loop does with back-off for throttling.
        "ModelNotReadyException",
    }
)
_STREAM_ERROR_EVENTS = ("ModelStreamError", "InternalStreamFailure")
_END = object()
READER_THREAD_NAME = "sagemaker-stream"
IDLE_READER_THREAD_NAME = "sagemaker-stream-idle"
MAX_IDLE_READERS = 32
# How often a consumer waiting for the next part checks the cancel signal (a threading.Event has no async
# hook); the same interval as Strands' own cancel-signal watcher (strands/agent/agent.py).
CANCEL_POLL_SECONDS = 0.05


class ReaderThreads:
    """Daemon threads that read response streams, parked between streams instead of exiting.

    A reader blocks for a whole response, so a stream never waits for a free thread: with none idle, a new
    one starts (as many as there are concurrent streams). At most ``max_idle`` stay parked after a burst.
    Busy threads are named ``sagemaker-stream``, parked ones ``sagemaker-stream-idle``.
    """

    def __init__(self, max_idle: int = MAX_IDLE_READERS) -> None:
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Callable[[], None]]] = []

    def run(self, job: Callable[[], None]) -> None:
        """Run ``job`` in a parked thread, or in a new one if none is idle, in a copy of the caller's context.

        The copy keeps context variables (the caller's OpenTelemetry span, for one) per job: a reused thread
        must not carry those of the stream that started it.
        """
        job = functools.partial(contextvars.copy_context().run, job)
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name=READER_THREAD_NAME, daemon=True).start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue[Callable[[], None]]) -> None:
        thread = threading.current_thread()
        while True:
            job = inbox.get()
            thread.name = READER_THREAD_NAME
            job()
            with self._lock:
                if len(self._idle) >= self._max_idle:
                    return
                thread.name = IDLE_READER_THREAD_NAME
                self._idle.append(inbox)


_READERS = ReaderThreads()


def create_client(
    region_name: str | None = None,
    endpoint_url: str | None = None,
    boto_session: boto3.Session | None = None,
    client_config: Config | None = None,
) -> SageMakerRuntimeClient:
    """Create a ``sagemaker-runtime`` client.

    botocore's own configuration applies, so ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` redirects it when no
    ``endpoint_url`` is given.
    """
    session = boto_session or boto3.Session()
    config = Config(user_agent_extra="sagemaker-provider")
    if client_config is not None:
        config = config.merge(client_config)
    client: SageMakerRuntimeClient = session.client(
        "sagemaker-runtime", region_name=region_name, endpoint_url=endpoint_url, config=config
    )
    return client


def translate_error(error: Exception) -> Exception:
    """Return the provider's exception for a botocore or urllib3 error (others are returned unchanged).

    Throttling → ``ModelThrottledException``; a context-length message → ``ContextWindowOverflowException``;
    an error event in the stream → :class:`ModelStreamError`; an inference component with no copy in
    service → :class:`ModelNotReadyError`; any other error answer → :class:`EndpointInvocationError`; a read
    timeout (before or during the stream) → :class:`EndpointTimeoutError`; a connection closed mid-answer or
    an endpoint that cannot be reached → :class:`EndpointConnectionError`.
    """
    # botocore wraps the errors of the call itself; while the event stream is read, urllib3's own reach the
    # reader unwrapped (botocore.eventstream reads the raw urllib3 response).
    if isinstance(error, BotocoreReadTimeoutError | Urllib3ReadTimeoutError | socket.timeout):
        return EndpointTimeoutError(f"no response from the endpoint within the read timeout: {error}")
    if isinstance(error, ConnectTimeoutError | BotocoreConnectionError):
        return EndpointConnectionError("unreachable", f"the endpoint could not be reached: {error}")
    if isinstance(error, ConnectionClosedError | ProtocolError | ConnectionError):
        return EndpointConnectionError("closed", f"the connection to the endpoint was closed: {error}")
    if not isinstance(error, ClientError):
        return error
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", "") or error)
    status = error.response.get("OriginalStatusCode")
    if code == "ModelError":
        message = str(error.response.get("OriginalMessage") or message)
    else:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _THROTTLING_CODES or (code == "ModelError" and status == 429):
        return ModelThrottledException(message)
    if is_context_overflow(message):
        return ContextWindowOverflowException(message)
    if code in _STREAM_ERROR_EVENTS:
        # botocore keeps only the event's type and message (not its ErrorCode member).
        return ModelStreamError(message, code)
    if is_no_capacity(code, message):
        return ModelNotReadyError(status if isinstance(status, int) else None, code, message)
    return EndpointInvocationError(status if isinstance(status, int) else None, code, message)


async def invoke(client: SageMakerRuntimeClient, request: dict[str, Any]) -> bytes:
    """Call ``invoke_endpoint`` in a worker thread and return the whole response body."""

    def call() -> bytes:
        response = client.invoke_endpoint(**request)
        body: bytes = response["Body"].read()
        return body

    try:
        return await asyncio.to_thread(call)
    except Exception as error:
        raise translate_error(error) from error


async def stream_parts(
    client: SageMakerRuntimeClient, request: dict[str, Any], cancel: threading.Event | None = None
) -> AsyncGenerator[bytes, None]:
    """Call ``invoke_endpoint_with_response_stream`` in a worker thread and yield each part's bytes.

    Stops at once when ``cancel`` is set, even while the endpoint sends nothing (it is checked every
    ``CANCEL_POLL_SECONDS`` while waiting), and when the consumer stops iterating: the response's connection
    is then shut down, so the reader thread stops without waiting for the next byte or the read timeout. A
    reader that outlives its consumer never touches the consumer's event loop (it may be closed).

    Raises:
        ModelStreamError: The stream carried a ``ModelStreamError`` / ``InternalStreamFailure`` event.
        EndpointTimeoutError: The endpoint sent nothing within the client's read timeout.
        EndpointConnectionError: The connection was closed mid-answer, or the endpoint is unreachable.

    """
    loop = asyncio.get_running_loop()
    lock = threading.Lock()
    items: deque[Any] = deque()
    waiter: list[asyncio.Future[None]] = []
    stop = cancel or threading.Event()
    stopped_by_consumer = threading.Event()
    bodies: list[Any] = []

    def push(item: Any) -> None:
        with lock:
            if stopped_by_consumer.is_set():
                return
            items.append(item)
            if waiter:
                future = waiter.pop()
                loop.call_soon_threadsafe(_wake, future)

    def work() -> None:
        body = None
        try:
            response = client.invoke_endpoint_with_response_stream(**request)
            body = response["Body"]
            with lock:
                bodies.append(body)
            if stopped_by_consumer.is_set():
                return
            for event in body:
                if stop.is_set() or stopped_by_consumer.is_set():
                    break
                part = event.get("PayloadPart")
                if part is not None:
                    push(part.get("Bytes", b""))
                    continue
                # AWS sends these as exception messages (raised by botocore, see translate_error); an
                # emulator may send them as plain events, which botocore hands over as dict keys.
                for name in _STREAM_ERROR_EVENTS:
                    if name in event:
                        failure = event[name] or {}
                        message = (
                            failure.get("Message") or f"SageMaker reported {name} in the response stream"
                        )
                        push(ModelStreamError(str(message), failure.get("ErrorCode") or name))
                        return
            push(_END)
        except Exception as error:
            # After the consumer left, the error is the connection this function shut down: nobody to tell.
            push(translate_error(error))
        finally:
            if body is not None:
                body.close()

    _READERS.run(work)
    # Whether the reader got to the end of the response (or its error) itself: only a stream left early has a
    # connection to cut; a finished one goes back to the client's pool for the next call.
    finished = False
    try:
        while True:
            with lock:
                batch = list(items)
                items.clear()
                if not batch:
                    future = loop.create_future()
                    waiter.append(future)
            if not batch:
                while not future.done():
                    if cancel is None:
                        await future
                    else:
                        await asyncio.wait((future,), timeout=CANCEL_POLL_SECONDS)
                        if cancel.is_set():
                            return
                continue
            for item in batch:
                if item is _END:
                    finished = True
                    return
                if isinstance(item, Exception):
                    finished = True
                    raise item
                yield item
    finally:
        with lock:
            stopped_by_consumer.set()
            waiter.clear()
            opened = [] if finished else list(bodies)
        for body in opened:
            _shut_down(body)


def _shut_down(body: Any) -> None:
    """Shut the socket of a response stream down, which ends a read blocked on it in another thread.

    Closing the socket alone does not wake a thread blocked in ``recv`` on Linux; ``shutdown`` does.
    """
    raw = getattr(body, "_raw_stream", None)
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
