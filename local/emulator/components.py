"""Inference components that can scale to zero, and the ``sagemaker`` control-plane calls that manage them.

An inference component has a desired and a current copy count. While it has no copy in service, SageMaker
refuses every invocation at once with a 400 ``ValidationError`` (nothing is queued), whose message is
``NO_CAPACITY_MESSAGE`` (quoted from AWS's Machine Learning blog, "Unlock cost savings with the new scale
down to zero feature in SageMaker Inference", 2024). ``UpdateInferenceComponentRuntimeConfig`` asks for
copies; the emulator brings them into service ``warm_up_seconds`` after the request (on AWS: minutes for
the instance, the weights and the server's start-up).
"""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from local.emulator.errors import ACCOUNT_ID

NO_CAPACITY_MESSAGE = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be "
    "in-progress (if configured) or try to increase the capacity by invoking "
    "UpdateInferenceComponentRuntimeConfig API."
)
MAX_COPY_COUNT = 2_147_483_647
"""The upper bound of botocore's ``InferenceComponentCopyCount`` shape (its lower bound is 0)."""


class InferenceComponent:
    """One emulated inference component of ``endpoint_name``: its copies now and the copies asked for.

    Copies asked for above the current count come into service ``warm_up_seconds`` after the (latest)
    request; fewer copies take effect at once. Thread-safe: the emulator serves from many threads.
    ``copy_count_requests`` records every count asked for, in order, and ``invocations`` and
    ``no_capacity_invocation_failures`` count invocations as the CloudWatch metrics of those names that the
    scale-to-zero alarms watch (for tests and debugging).
    """

    def __init__(
        self,
        name: str,
        endpoint_name: str,
        *,
        copies: int = 1,
        warm_up_seconds: float = 0.0,
        region: str = "us-east-1",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= copies <= MAX_COPY_COUNT:
            raise ValueError(f"copies must be within 0..{MAX_COPY_COUNT}, got {copies}")
        if warm_up_seconds < 0:
            raise ValueError(f"warm_up_seconds must be >= 0, got {warm_up_seconds}")
        self.name = name
        self.endpoint_name = endpoint_name
        self.warm_up_seconds = warm_up_seconds
        self.region = region
        self.copy_count_requests: list[int] = []
        self.invocations = 0
        self.no_capacity_invocation_failures = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._current = copies
        self._desired = copies
        self._requested_at: float | None = None
        self._created = datetime.now(UTC)
        self._modified = self._created

    @property
    def arn(self) -> str:
        """The component's ARN, as SageMaker spells it."""
        return f"arn:aws:sagemaker:{self.region}:{ACCOUNT_ID}:inference-component/{self.name}"

    @property
    def endpoint_arn(self) -> str:
        """The hosting endpoint's ARN."""
        return f"arn:aws:sagemaker:{self.region}:{ACCOUNT_ID}:endpoint/{self.endpoint_name}"

    def copies_in_service(self) -> int:
        """How many copies serve invocations now."""
        with self._lock:
            self._settle()
            return self._current

    def admit(self) -> bool:
        """Take one invocation, and count it: served if a copy is in service, else refused (no capacity)."""
        with self._lock:
            self._settle()
            if self._current:
                self.invocations += 1
                return True
            self.no_capacity_invocation_failures += 1
            return False

    def set_copy_count(self, copies: int) -> None:
        """Ask for ``copies`` copies (``UpdateInferenceComponentRuntimeConfig``)."""
        if not 0 <= copies <= MAX_COPY_COUNT:
            raise ValueError(f"CopyCount must be within 0..{MAX_COPY_COUNT}, got {copies}")
        with self._lock:
            self._settle()
            self.copy_count_requests.append(copies)
            self._desired = copies
            self._modified = datetime.now(UTC)
            if copies <= self._current:
                self._current = copies
                self._requested_at = None
            else:
                self._requested_at = self._clock()

    def describe(self) -> dict[str, object]:
        """Return the ``DescribeInferenceComponent`` answer (timestamps as epoch seconds, JSON 1.1's way)."""
        with self._lock:
            self._settle()
            updating = self._desired != self._current
            return {
                "InferenceComponentName": self.name,
                "InferenceComponentArn": self.arn,
                "EndpointName": self.endpoint_name,
                "EndpointArn": self.endpoint_arn,
                "VariantName": "AllTraffic",
                "RuntimeConfig": {"DesiredCopyCount": self._desired, "CurrentCopyCount": self._current},
                "CreationTime": self._created.timestamp(),
                "LastModifiedTime": self._modified.timestamp(),
                "InferenceComponentStatus": "Updating" if updating else "InService",
            }

    def _settle(self) -> None:
        """Bring the copies asked for into service once their warm-up has passed (lock held)."""
        if self._requested_at is not None and self._clock() - self._requested_at >= self.warm_up_seconds:
            self._current = self._desired
            self._requested_at = None
