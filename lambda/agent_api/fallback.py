"""When a turn is answered by the fallback model, and how the fallback's own failure is told (issue 23).

A turn (agent_api.turn) asks the endpoint's own model first. When that first call fails before anything was
produced, `Fallback.reason` says whether the fallback answers instead: always while the model has no copy in
service (SageMaker refused the call: the provider's `ModelNotReadyError`), and, with
`AGENT_FALLBACK_ON_THROTTLE`, when it throttled. The turn then says so in a `status` event
(`{"state": "fallback", "model": ...}`), answers with the fallback's model (agent_api.fallback_model), and
`Fallback.failure` words a failure of the fallback as `fallback_error`, naming its cause.

Strands' `ModelRouter` (strands.models.routing, with its `FallbackStrategy`) is not used for this: it switches
models inside one agent after any failed call the retry strategy declines, after partial output too (its own
documented limitation: the caller then sees that output followed by the replacement's), so it could not say
"fallback" before the first event, wake the model, or keep a failure mid-answer an error; and `agent.model`
stays its first candidate, so `done` (and the traces) could not name the model that answered. The switch here
is decided once, at the turn's first call, from why the model could not take it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from strands.models.model import Model
from strands.types.exceptions import ModelThrottledException

from agent_api.errors import ErrorReply, classify, root_cause
from agent_api.fallback_model import FallbackModel
from sagemaker_provider.errors import ModelNotReadyError

FALLBACK_STATE: Final = "fallback"
"""The `state` of the `status` event that opens a turn the fallback answers."""
FALLBACK_ERROR: Final = "fallback_error"
"""The code of a turn the fallback could not answer."""
AT_ZERO: Final = "the model has no copy in service yet"
THROTTLED: Final = "the model is busy"
_UNCLASSIFIED: Final = "internal_error"


@dataclass(frozen=True)
class Fallback:
    """The configured fallback model, and whether it also answers a turn the own model throttled."""

    model: FallbackModel
    on_throttle: bool = False

    @property
    def name(self) -> str:
        """What the `status` and `done` events call the fallback."""
        return self.model.name

    def turn_model(
        self, max_tokens: int, temperature: float, sampling: Mapping[str, Any] | None = None
    ) -> Model:
        """Build the fallback's model for one turn, with the request's generation parameters."""
        return self.model.model(max_tokens, temperature, sampling)

    def reason(self, cause: BaseException) -> str | None:
        """Say why the fallback answers a turn whose first call to the model failed with `cause`, or None."""
        if isinstance(cause, ModelNotReadyError):
            return AT_ZERO
        if self.on_throttle and isinstance(cause, ModelThrottledException):
            return THROTTLED
        return None

    def failure(self, exc: BaseException, reason: str, request_id: str) -> ErrorReply:
        """Put the fallback's failure in the client's words: `fallback_error`, its cause named.

        The cause is Bedrock's error code (`AccessDeniedException` when the model is not enabled for the
        account, ...), botocore's error class, or the code the same failure of the own model would get
        (`model_throttled`, `endpoint_timeout`, ...), whose status it keeps. Anything else is a defect: it is
        answered as `internal_error`, without its details.
        """
        cause = root_cause(exc)
        status = 502
        if isinstance(cause, ClientError):
            code = str(cause.response.get("Error", {}).get("Code") or type(cause).__name__)
        elif isinstance(cause, BotoCoreError):
            code = type(cause).__name__
        else:
            own = classify(cause, request_id)
            if own.code == _UNCLASSIFIED:
                return own
            code, status = own.code, own.status
        message = f"{reason}, and the fallback model {self.name} could not answer ({code}); retry later"
        return ErrorReply(FALLBACK_ERROR, message, status, details={"model": self.name, "cause": code})
