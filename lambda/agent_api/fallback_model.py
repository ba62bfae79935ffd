"""The fallback model that answers a turn while the endpoint's own model has no copy in service (issue 23).

`FallbackModel` builds a fresh Strands model per turn, as the agent factory does for the own model, on one
client per process (building a client costs tens of milliseconds, and a shared one keeps its connections):

- a Bedrock fallback is Strands' own `BedrockModel` (Converse and ConverseStream), reading the conversation
  as converted by agent_api.bedrock_history (whichever model wrote it) and with Converse's temperature range
  (0..1: a request's higher temperature is sent as 1);
- an endpoint fallback is this project's provider on the other endpoint (and inference component), sharing
  the process's `sagemaker-runtime` client.

Both take the request's token limit, capped by the fallback's own `max_tokens` when it sets one, and the
OpenAI doors' sampling parameters (`sampling`, in OpenAI's names): an endpoint fallback all of them, as the
own model does; Converse only `top_p` and `stop` (its `inferenceConfig` has `topP` and `stopSequences` beside
the token limit and temperature, botocore's bedrock-runtime model), so `seed` and the penalties are not sent
to a Bedrock fallback.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any, Final, cast

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from strands.models.bedrock import BedrockModel
from strands.models.model import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent

from agent_api.agent_factory import model_config
from agent_api.bedrock_history import for_bedrock
from agent_api.contract import MODEL_CONNECT_TIMEOUT_SECONDS, MODEL_READ_TIMEOUT_SECONDS
from agent_api.fallback_settings import BedrockFallback, EndpointFallback, Fallback
from sagemaker_provider import SageMakerModel
from sagemaker_provider.config import validate_config

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

CONVERSE_MAX_TEMPERATURE: Final = 1.0
"""The highest `inferenceConfig.temperature` Converse takes (botocore's bedrock-runtime model)."""
BEDROCK_CLIENT_CONFIG: Final = Config(
    connect_timeout=MODEL_CONNECT_TIMEOUT_SECONDS,
    read_timeout=MODEL_READ_TIMEOUT_SECONDS,
    # Throttling is retried by the agent's retry strategy alone, as for the own model.
    retries={"total_max_attempts": 1, "mode": "standard"},
    # What BedrockModel adds to the clients it makes itself.
    user_agent_extra="strands-agents",
)


def create_bedrock_client(boto_session: boto3.Session, region: str | None) -> BaseClient:
    """Create the process's `bedrock-runtime` client: the model timeouts, no botocore retries.

    botocore's `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` redirects it (the local stack's emulator).
    """
    return boto_session.client("bedrock-runtime", region_name=region, config=BEDROCK_CLIENT_CONFIG)


class FallbackBedrockModel(BedrockModel):
    """Strands' `BedrockModel` on a client it is given, reading conversations other models wrote."""

    def __init__(self, *, client: BaseClient, **config: Any) -> None:
        # BedrockModel makes its client from the session it is given: this one hands over `client`.
        super().__init__(boto_session=cast("boto3.Session", _ClientSession(client)), **config)

    async def stream(
        self, messages: Messages, *args: Any, **kwargs: Any
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream the answer to `messages` as converted for Bedrock (the agent keeps its own)."""
        async for event in super().stream(for_bedrock(messages), *args, **kwargs):
            yield event


class _ClientSession:
    """What BedrockModel asks of a boto3 Session (its Region, a client), answered with an existing client."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client
        self.region_name = client.meta.region_name

    def client(self, *args: Any, **kwargs: Any) -> BaseClient:
        return self._client


class FallbackModel:
    """The configured fallback: its name, and a fresh Strands model per turn on the process's client.

    A Bedrock fallback needs `bedrock_client` (`create_bedrock_client`), an endpoint fallback `runtime_client`
    (the process's `sagemaker-runtime` client).

    Raises:
        ValueError: the provider rejects an endpoint fallback's configuration (its response format), or the
            client it needs is missing.

    """

    def __init__(
        self,
        fallback: Fallback,
        *,
        bedrock_client: BaseClient | None = None,
        runtime_client: SageMakerRuntimeClient | None = None,
    ) -> None:
        self.fallback = fallback
        self._bedrock_client = bedrock_client
        self._runtime_client = runtime_client
        if isinstance(fallback, BedrockFallback) and bedrock_client is None:
            raise ValueError("a Bedrock fallback needs a bedrock-runtime client")
        if isinstance(fallback, EndpointFallback):
            if runtime_client is None:
                raise ValueError("an endpoint fallback needs a sagemaker-runtime client")
            validate_config(model_config(fallback, 1, 0.0))

    @property
    def name(self) -> str:
        """What the `status` and `done` events call it."""
        return self.fallback.name

    def model(self, max_tokens: int, temperature: float, sampling: Mapping[str, Any] | None = None) -> Model:
        """Build the fallback's model for one turn, with the request's parameters (module docstring)."""
        sampling = sampling or {}
        if self.fallback.max_tokens is not None:
            max_tokens = min(max_tokens, self.fallback.max_tokens)
        if isinstance(self.fallback, BedrockFallback):
            assert self._bedrock_client is not None
            converse: dict[str, Any] = {}
            if "top_p" in sampling:
                converse["top_p"] = sampling["top_p"]
            if "stop" in sampling:
                converse["stop_sequences"] = list(sampling["stop"])
            return FallbackBedrockModel(
                client=self._bedrock_client,
                model_id=self.fallback.model.model_id,
                max_tokens=max_tokens,
                temperature=min(temperature, CONVERSE_MAX_TEMPERATURE),
                streaming=True,
                **converse,
            )
        assert self._runtime_client is not None
        return SageMakerModel(
            client=self._runtime_client, **model_config(self.fallback, max_tokens, temperature, sampling)
        )
