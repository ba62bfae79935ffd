"""Waking a model whose inference component is scaled to zero: `/status`, `/warm`, and the wait of a request.

While an inference component has no copy, SageMaker refuses every invocation at once (the provider's
`ModelNotReadyError`) and queues nothing; its scale-out alarm reacts only after a minute or more. So the agent
API asks for a copy itself (`UpdateInferenceComponentRuntimeConfig`, CopyCount 1) as soon as a request finds
none. The turn (`agent_api.turn`) then refuses the request at once (`refuse`: 503 with Retry-After) or, when
its answer can wait, sends a `status` event at each check of `wait` until `DescribeInferenceComponent` shows
a copy in service, and answers; with a fallback model it asks for the copy in the background (`wake`) while
the fallback answers (agent_api.fallback). Every check describes the component first and asks for a copy only
when none is wanted yet, one check at a time per process: requests arriving during one warm-up start one copy.

Before asking, the agent sends the component one invocation (`signal_demand`), which SageMaker refuses and
counts in `NoCapacityInvocationFailures`: that fires the stack's scale-out-from-zero alarm, whose step policy
asks for the same one copy should the agent's own call fail. Nothing removes the copy before the request that
woke it can use it: scale-in is target tracking's, after about 15 minutes without a request in flight
(docs/deploy.md, "Scale to zero").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strands.types.exceptions import ModelThrottledException

from agent_api import contract
from agent_api.errors import MODEL_WARMING, ErrorReply, ReplyError
from agent_api.observability import logger
from sagemaker_provider.errors import ModelNotReadyError, SageMakerProviderError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

STATUS_UNAVAILABLE = "model_status_unavailable"
"""The code of a failed `DescribeInferenceComponent` / `UpdateInferenceComponentRuntimeConfig` call."""


class ModelState(StrEnum):
    """The model's state as `GET /status` and the `status` events name it."""

    IN_SERVICE = "in_service"
    WARMING = "warming"
    SCALED_TO_ZERO = "scaled_to_zero"


@dataclass(frozen=True)
class ModelStatus:
    """What `DescribeInferenceComponent` says about the copies of the component."""

    state: ModelState
    desired_copies: int
    current_copies: int

    def body(self) -> dict[str, Any]:
        """Return the `GET /status` / `POST /warm` answer."""
        return {
            "state": self.state.value,
            "desired_copies": self.desired_copies,
            "current_copies": self.current_copies,
        }


@dataclass(frozen=True)
class WarmingPolicy:
    """How long a request waits for a copy, how often it checks, and the Retry-After of a refusal."""

    budget_seconds: float = contract.WARMING_BUDGET_SECONDS
    poll_seconds: float = contract.WARMING_POLL_SECONDS
    retry_after_seconds: int = contract.WARMING_RETRY_AFTER_SECONDS

    def __post_init__(self) -> None:
        if not 0 < self.budget_seconds < contract.API_GATEWAY_STREAM_LIMIT_SECONDS:
            raise ValueError(
                f"budget_seconds must be within 0..{contract.API_GATEWAY_STREAM_LIMIT_SECONDS} (exclusive), "
                f"got {self.budget_seconds}"
            )
        # A `status` event goes out on every check: at least every 30 s keeps any API Gateway stream alive.
        if not 0 < self.poll_seconds <= 30:
            raise ValueError(f"poll_seconds must be within 0..30, got {self.poll_seconds}")
        if self.retry_after_seconds < 1:
            raise ValueError(f"retry_after_seconds must be >= 1, got {self.retry_after_seconds}")


SignalDemand = Callable[[], Awaitable[None]]
"""Sends the component one invocation, so that SageMaker's metrics count a request (module docstring)."""


class Warmer:
    """Reads and raises the copy count of one inference component through an injected `sagemaker` client.

    The function may call `DescribeInferenceComponent` and `UpdateInferenceComponentRuntimeConfig` on its own
    component only (the stack's grant). Calls run in worker threads: boto3 blocks. `signal_demand` runs
    before every request for a copy.
    """

    def __init__(self, client: SageMakerClient, component_name: str, signal_demand: SignalDemand) -> None:
        self._client = client
        self.component_name = component_name
        self._signal_demand = signal_demand
        self._lock = asyncio.Lock()

    async def status(self) -> ModelStatus:
        """Describe the component."""
        described = await asyncio.to_thread(
            self._client.describe_inference_component, InferenceComponentName=self.component_name
        )
        runtime = described.get("RuntimeConfig", {})
        desired = int(runtime.get("DesiredCopyCount", 0))
        current = int(runtime.get("CurrentCopyCount", 0))
        if current > 0:
            state = ModelState.IN_SERVICE
        elif desired > 0:
            state = ModelState.WARMING
        else:
            state = ModelState.SCALED_TO_ZERO
        return ModelStatus(state, desired, current)

    async def warm(self) -> ModelStatus:
        """Ask for one copy unless one is in service or already asked for; return the state after that."""
        # One check at a time: a request arriving while another asks for a copy sees that copy wanted.
        async with self._lock:
            status = await self.status()
            if status.state is not ModelState.SCALED_TO_ZERO:
                return status
            await self._count_demand()
            await asyncio.to_thread(
                self._client.update_inference_component_runtime_config,
                InferenceComponentName=self.component_name,
                DesiredRuntimeConfig={"CopyCount": 1},
            )
            logger.info("asked for a copy of the model", extra={"inference_component": self.component_name})
            return ModelStatus(ModelState.WARMING, 1, status.current_copies)

    async def _count_demand(self) -> None:
        """Have SageMaker count a request; the copy is asked for whatever this invocation meets."""
        try:
            await self._signal_demand()
        except ModelNotReadyError:
            return  # Refused for lack of capacity, and counted: what it is sent for.
        except (SageMakerProviderError, ModelThrottledException, BotoCoreError, ClientError) as exc:
            logger.warning(
                "the invocation announcing a request for a copy failed; asking for the copy all the same",
                extra={"inference_component": self.component_name, "exception": type(exc).__name__},
            )


class WarmingService:
    """The `/status` and `/warm` handlers, and what a turn that found the model asleep does about it.

    Without an inference component (`warmer` None: a classic endpoint) the model is always in service, and
    nothing waits for it.
    """

    def __init__(
        self,
        warmer: Warmer | None,
        policy: WarmingPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.warmer = warmer
        self.policy = policy
        self._clock = clock
        # Wakes asked for in the background (`wake`), held until done: the event loop keeps only weak
        # references to its tasks.
        self._wakes: set[asyncio.Task[None]] = set()

    @property
    def can_wait(self) -> bool:
        """Whether a request can wait for a copy (there is an inference component to watch)."""
        return self.warmer is not None

    async def status(self, request: Request) -> Response:
        """`GET /status`: the model's state."""
        return await self._answer(Warmer.status, warming_status=200)

    async def warm(self, request: Request) -> Response:
        """`POST /warm`: ask for a copy unless one is in service or wanted (202 while warming, else 200)."""
        return await self._answer(Warmer.warm, warming_status=202)

    async def _answer(
        self, call: Callable[[Warmer], Awaitable[ModelStatus]], *, warming_status: int
    ) -> Response:
        """Answer the state `call` leaves the model in: 200 in service, else `warming_status`."""
        if self.warmer is None:
            return JSONResponse({"state": ModelState.IN_SERVICE.value})
        try:
            status = await call(self.warmer)
        except (BotoCoreError, ClientError) as exc:
            error = _unavailable(exc)
            return JSONResponse(error.body(), status_code=error.status)
        in_service = status.state is ModelState.IN_SERVICE
        return JSONResponse(status.body(), status_code=200 if in_service else warming_status)

    async def refuse(self, error: ErrorReply) -> ErrorReply:
        """Ask for a copy (a failure is only logged); return `error` with the refusal's Retry-After."""
        await self._ask_for_copy()
        return replace(error, headers={"Retry-After": str(self.policy.retry_after_seconds)})

    def wake(self) -> asyncio.Task[None]:
        """Ask for a copy in the background, as `refuse` does, while a fallback answers the turn.

        The turn awaits the task before it ends, so the request is not over (nor, in Lambda, the invocation
        frozen) before the copy was asked for.
        """
        task = asyncio.create_task(self._ask_for_copy())
        self._wakes.add(task)
        task.add_done_callback(self._wakes.discard)
        return task

    async def _ask_for_copy(self) -> None:
        """Ask for a copy unless one is in service or wanted; a failure is only logged."""
        if self.warmer is None:
            return
        try:
            await self.warmer.warm()
        except (BotoCoreError, ClientError) as exc:
            logger.warning("asking for a copy of the model failed", extra={"detail": str(exc)})

    async def wait(self) -> AsyncGenerator[int, None]:
        """Ask for a copy, then yield the whole seconds waited at each check until one is in service.

        Raises:
            ReplyError: 503 `model_warming` (with `waited_s`) when no copy came within the budget, 502
                `model_status_unavailable` when the component could not be described or scaled.

        """
        assert self.warmer is not None, "only a request to an inference component waits for one"
        started = self._clock()
        try:
            status = await self.warmer.warm()
            while status.state is not ModelState.IN_SERVICE:
                elapsed = self._clock() - started
                if elapsed >= self.policy.budget_seconds:
                    logger.warning("the model did not wake in time", extra={"waited_s": round(elapsed)})
                    raise ReplyError(_gave_up(elapsed))
                yield int(elapsed)
                await asyncio.sleep(min(self.policy.poll_seconds, self.policy.budget_seconds - elapsed))
                status = await self.warmer.warm()
        except (BotoCoreError, ClientError) as exc:
            raise ReplyError(_unavailable(exc)) from exc
        logger.info("the model woke; answering", extra={"waited_s": round(self._clock() - started)})


def _unavailable(exc: BotoCoreError | ClientError) -> ErrorReply:
    logger.warning("the model's state could not be read or changed", extra={"detail": str(exc)})
    code = exc.response.get("Error", {}).get("Code", "Unknown") if isinstance(exc, ClientError) else "network"
    return ErrorReply(STATUS_UNAVAILABLE, f"the model's state could not be read or changed ({code})", 502)


def _gave_up(elapsed: float) -> ErrorReply:
    waited = round(elapsed)
    message = f"the model did not come into service within {waited} s; it is still starting: retry"
    return ErrorReply(MODEL_WARMING, message, 503, details={"waited_s": waited})
