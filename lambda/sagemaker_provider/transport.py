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
- A cancel signal is watched by one timer per stream, not by a timeout on every wait for a part, so the
  reader's wake-up reaches the consumer in one step of the event loop: 3-5 us (4-8 %) less CPU per part of
  a stream paced like a model's (docs/local.md, "Measurements").
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import queue
import socket
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ConnectTimeoutError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import ReadTimeoutError as BotocoreReadTimeoutError
from strands.types.exceptions import ContextWindowOverflowException, ModelThrottledException
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from . import span_attributes
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

logger = logging.getLogger(__name__)

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
#: botocore's retry settings of the clients the provider creates: one attempt (Strands retries throttling).
ONE_ATTEMPT: Final = {"total_max_attempts": 1, "mode": "standard"}


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
    """Create a ``sagemaker-runtime`` client that makes one attempt per call.

    Strands retries a throttled model call itself (its ``ModelRetryStrategy``, with back-off); botocore's own
    retries (3 attempts in its default standard mode) would multiply those (3 Strands attempts became 9
    HTTP calls), so they are off unless ``client_config`` sets ``retries`` (then both layers retry and
    :func:`warn_if_retrying` says so). botocore's own configuration applies otherwise, so
    ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` redirects it when no ``endpoint_url`` is given.
    """
    session = boto_session or boto3.Session()
    config = Config(user_agent_extra="sagemaker-provider", retries=dict(ONE_ATTEMPT))
    if client_config is not None:
        config = config.merge(client_config)
    client: SageMakerRuntimeClient = session.client(
        "sagemaker-runtime", region_name=region_name, endpoint_url=endpoint_url, config=config
    )
    warn_if_retrying(client)
    return client


def warn_if_retrying(client: Any) -> None:
    """Log a warning when ``client`` retries calls itself, which multiplies the agent loop's retries.

    botocore resolves its retry settings into ``client.meta.config.retries``; without
    ``total_max_attempts`` there, its mode's default applies (3 attempts in standard mode, 5 in legacy).
    """
    retries = getattr(getattr(getattr(client, "meta", None), "config", None), "retries", None)
    if not isinstance(retries, dict):
        return  # not a botocore client (a stand-in): nothing to tell
    attempts = retries.get("total_max_attempts")
    if attempts is None or attempts > 1:
        logger.warning(
            "total_max_attempts=<%s> | the sagemaker-runtime client retries calls itself, and Strands "
            "retries throttled model calls too, so the attempts multiply; create the client with "
            "botocore.config.Config(retries={'total_max_attempts': 1}), as "
            "sagemaker_provider.transport.create_client does",
            attempts if attempts is not None else f"{retries.get('mode', 'legacy')} default",
        )


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


async def stream_parts(
    client: SageMakerRuntimeClient,
    request: dict[str, Any],
    cancel: threading.Event | None = None,
    *,
    streamed: bool = True,
) -> AsyncGenerator[bytes, None]:
    """Invoke the endpoint in a worker thread and yield the response's bytes as they arrive.

    Streamed, with ``invoke_endpoint_with_response_stream``: each ``PayloadPart``'s bytes. Not streamed, with
    ``invoke_endpoint``: the whole body, once.

    Stops at once when ``cancel`` is set, even while the endpoint sends nothing (it is checked every
    ``CANCEL_POLL_SECONDS`` while waiting), and when the consumer stops iterating: the response's connection
    is then shut down, so the reader thread stops without waiting for the next byte or the read timeout. A
    call still waiting for the response headers has no connection botocore hands out: it is left to finish
    in its thread, and its answer is closed unread. A reader that outlives its consumer never touches the
    consumer's event loop (it may be closed).

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

    def opened(body: Any) -> bool:
        """Register the response body (the consumer may cut its connection); False if already left."""
        with lock:
            bodies.append(body)
        return not stopped_by_consumer.is_set()

    def read_stream() -> None:
        response = client.invoke_endpoint_with_response_stream(**request)
        span_attributes.note_request_id(response)
        if not opened(response["Body"]):
            return
        for event in response["Body"]:
            if stop.is_set() or stopped_by_consumer.is_set():
                return
            part = event.get("PayloadPart")
            if part is not None:
                push(part.get("Bytes", b""))
                continue
            # AWS sends these as exception messages (raised by botocore, see translate_error); an emulator
            # may send them as plain events, which botocore hands over as dict keys.
            for name in _STREAM_ERROR_EVENTS:
                if name in event:
                    failure = event[name] or {}
                    message = failure.get("Message") or f"SageMaker reported {name} in the response stream"
                    push(ModelStreamError(str(message), failure.get("ErrorCode") or name))
                    return
        push(_END)

    def read_whole() -> None:
        response = client.invoke_endpoint(**request)
        span_attributes.note_request_id(response)
        if not opened(response["Body"]):
            return
        push(response["Body"].read())
        push(_END)

    def work() -> None:
        try:
            (read_stream if streamed else read_whole)()
        except Exception as error:
            if isinstance(error, ClientError):
                span_attributes.note_request_id(error.response)
            # After the consumer left, the error is the connection this function shut down: nobody to tell.
            push(translate_error(error))
        finally:
            with lock:
                opened_bodies = list(bodies)
            for body in opened_bodies:
                body.close()

    # One timer per stream checks the cancel signal, rather than a timeout on each wait: a wait for the next
    # part is then a plain await, woken by the reader in one step of the loop (asyncio.wait with a timeout
    # takes two, and a timer and a task callback of its own, on every part).
    watcher: asyncio.TimerHandle | None = None

    def watch_cancel() -> None:
        """Wake the waiting consumer once ``cancel`` is set; else look again in ``CANCEL_POLL_SECONDS``."""
        nonlocal watcher
        if cancel is not None and cancel.is_set():
            with lock:
                woken = waiter.pop() if waiter else None
            if woken is not None:
                _wake(woken)
            return
        watcher = loop.call_later(CANCEL_POLL_SECONDS, watch_cancel)

    _READERS.run(work)
    if cancel is not None:
        watcher = loop.call_later(CANCEL_POLL_SECONDS, watch_cancel)
    # Whether the reader got to the end of the response (or its error) itself: only a stream left early has a
    # connection to cut; a finished one goes back to the client's pool for the next call.
    finished = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                return
            with lock:
                batch = list(items)
                items.clear()
                if not batch:
                    future = loop.create_future()
                    waiter.append(future)
            if not batch:
                await future
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
        if watcher is not None:
            watcher.cancel()
        with lock:
            stopped_by_consumer.set()
            waiter.clear()
            to_cut = [] if finished else list(bodies)
        for body in to_cut:
            _shut_down(body)


def _shut_down(body: Any) -> None:
    """Shut the socket of a response down, which ends a read blocked on it in another thread.

    Closing the socket alone does not wake a thread blocked in ``recv`` on Linux; ``shutdown`` does. The
    reader then closes the response, which closes the socket, so the endpoint sees the connection end.
    urllib3 (2.3 and later) keeps the socket's ``shutdown`` in the response: a response that says
    ``Connection: close`` has its socket handed over by ``http.client``, and the pooled connection no longer
    holds it. Older urllib3 has only the pooled connection's socket.
    """
    raw = getattr(body, "_raw_stream", None)
    shutdown = getattr(raw, "shutdown", None)
    if shutdown is not None:
        # ValueError/RuntimeError: urllib3 has no socket for it (already released or closed): nothing to cut.
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            shutdown()
        return
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
