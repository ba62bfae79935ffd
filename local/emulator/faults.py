"""Fault injection for the emulator: throttling, mid-stream errors, slowness and awkward payload splits."""

import threading
from dataclasses import dataclass, replace
from typing import Literal

StreamErrorType = Literal["ModelStreamError", "InternalStreamFailure"]
STREAM_ERROR_TYPES: tuple[StreamErrorType, ...] = ("ModelStreamError", "InternalStreamFailure")


@dataclass(frozen=True)
class Faults:
    """What the emulator does wrong on purpose; the default does nothing wrong.

    ``throttle_requests`` counts down: each request it applies to answers ``ThrottlingException``
    (botocore retries those, so a client sees the error only when it outlasts its retries), once
    ``throttle_after_requests`` (also counting down) has let its requests through. The other faults apply
    to every request until the faults are replaced. They apply to SageMaker's invocation routes and to
    Bedrock's Converse routes (the stream faults to ConverseStream, in units of its deltas' text).
    """

    throttle_requests: int = 0
    """Answer the next N requests (any route) with ``ThrottlingException``."""
    throttle_after_requests: int = 0
    """Let this many requests through before ``throttle_requests`` starts counting (counts down too): for
    example, throttle an agent's second model call, the one after its tool call."""
    stream_error_after_bytes: int | None = None
    """On a stream route, send this many payload bytes (ConverseStream: UTF-8 bytes of the deltas' text and
    tool input), then a stream error event, then end the stream."""
    stream_error_type: StreamErrorType = "ModelStreamError"
    """The exception event sent by ``stream_error_after_bytes``."""
    first_byte_delay: float = 0.0
    """Seconds to wait before sending the response (any route)."""
    part_delay: float = 0.0
    """Seconds to wait before each ``PayloadPart`` (or ``contentBlockDelta``) after the first (a slow token
    rate)."""
    split_every: int | None = None
    """Cut every ``PayloadPart`` into pieces of this many bytes (cutting UTF-8 sequences and SSE lines), and
    every ``contentBlockDelta`` into deltas of this many characters."""

    def __post_init__(self) -> None:
        if self.throttle_requests < 0:
            raise ValueError(f"throttle_requests must be >= 0, got {self.throttle_requests}")
        if self.throttle_after_requests < 0:
            raise ValueError(f"throttle_after_requests must be >= 0, got {self.throttle_after_requests}")
        if self.stream_error_after_bytes is not None and self.stream_error_after_bytes < 0:
            raise ValueError(f"stream_error_after_bytes must be >= 0, got {self.stream_error_after_bytes}")
        if self.stream_error_type not in STREAM_ERROR_TYPES:
            raise ValueError(
                f"stream_error_type must be one of {', '.join(STREAM_ERROR_TYPES)}, "
                f"got {self.stream_error_type!r}"
            )
        if self.first_byte_delay < 0:
            raise ValueError(f"first_byte_delay must be >= 0, got {self.first_byte_delay}")
        if self.part_delay < 0:
            raise ValueError(f"part_delay must be >= 0, got {self.part_delay}")
        if self.split_every is not None and self.split_every < 1:
            raise ValueError(f"split_every must be >= 1, got {self.split_every}")


class FaultState:
    """The current faults of one emulator, safe to change from any thread while requests are served."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = faults or Faults()

    @property
    def current(self) -> Faults:
        """The faults in force now (the remaining throttle count included)."""
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> None:
        """Replace the faults for the requests that arrive from now on."""
        with self._lock:
            self._faults = faults

    def take_for_request(self) -> tuple[Faults, bool]:
        """Return the faults for one new request and whether it is throttled (counting the throttle down)."""
        with self._lock:
            faults = self._faults
            if faults.throttle_requests == 0:
                return faults, False
            if faults.throttle_after_requests:
                self._faults = replace(faults, throttle_after_requests=faults.throttle_after_requests - 1)
                return faults, False
            self._faults = replace(faults, throttle_requests=faults.throttle_requests - 1)
            return faults, True


class FaultBook:
    """The faults of one emulator: those for every request, and those set for one target alone.

    A target is an endpoint name or a Bedrock model id. A request to a target with faults of its own takes
    them (and counts down their throttling) and leaves everyone else's alone; any other request takes the
    faults for every request.
    """

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._everyone = FaultState(faults)
        self._targets: dict[str, FaultState] = {}

    @property
    def current(self) -> Faults:
        """The faults in force now for requests to targets without faults of their own."""
        return self._everyone.current

    def set(self, faults: Faults, target: str | None = None) -> None:
        """Replace the faults of ``target`` or, with None, of every target (dropping those set for one)."""
        with self._lock:
            if target is None:
                self._everyone.set(faults)
                self._targets.clear()
            else:
                self._targets[target] = FaultState(faults)

    def take_for_request(self, target: str) -> tuple[Faults, bool]:
        """Return the faults for one new request to ``target`` and whether it is throttled."""
        with self._lock:
            state = self._targets.get(target, self._everyone)
        return state.take_for_request()
