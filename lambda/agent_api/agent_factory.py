"""Builds a Strands `Agent` per request from the cold-start settings and the request's generation limits.

Every agent's model shares one `sagemaker-runtime` client, created once per process by `create_runtime_client`
(building a client costs tens of milliseconds; clients are thread-safe).

Retries: throttling is retried by Strands' `ModelRetryStrategy` only (botocore's own retries are off, so
the two do not multiply); a turn whose fallback answers throttles (agent_api.fallback) does not retry its
first call, which the fallback then answers. The default policy's total backoff is bounded by
`RETRY_BACKOFF_BUDGET_SECONDS`, a small fraction of the shortest Lambda timeout this API supports
(`MIN_LAMBDA_TIMEOUT_SECONDS`), leaving the rest of the time for the answer itself. Both, and the model
timeouts, live in `agent_api.contract`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import boto3
from botocore.config import Config
from strands import Agent, ModelRetryStrategy
from strands.models.model import Model
from strands.session.session_manager import SessionManager
from strands.types.content import Messages
from strands.types.tools import AgentTool

from agent_api import contract
from agent_api.contract import MODEL_CONNECT_TIMEOUT_SECONDS, MODEL_READ_TIMEOUT_SECONDS, TOOL_CATALOG
from agent_api.fallback_settings import endpoint_model_name
from agent_api.python_tools import load_tools
from agent_api.settings import Settings
from agent_api.validation import TurnRequest
from sagemaker_provider import SageMakerModel
from sagemaker_provider.config import SageMakerConfig, validate_config
from sagemaker_provider.text_tool_calls import TextToolCallSyntax
from sagemaker_provider.transport import create_client

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

DEMAND_PROMPT: Messages = [{"role": "user", "content": [{"text": "ping"}]}]
"""What `AgentFactory.signal_demand` sends: any one-message conversation will do."""

MODEL_CLIENT_CONFIG = Config(
    connect_timeout=MODEL_CONNECT_TIMEOUT_SECONDS,
    read_timeout=MODEL_READ_TIMEOUT_SECONDS,
    retries={"total_max_attempts": 1, "mode": "standard"},
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a throttled model call is retried (Strands' exponential backoff)."""

    max_attempts: int = 4
    initial_delay_seconds: int = 1
    max_delay_seconds: int = 4

    def strategy(self, gives_way: Callable[[], bool] | None = None) -> ModelRetryStrategy:
        """Build a fresh Strands retry strategy (it keeps per-invocation state, so one per agent).

        While `gives_way()` holds, a throttled call is not retried (a fallback answers it instead).
        """
        limits = {
            "max_attempts": self.max_attempts,
            "initial_delay": self.initial_delay_seconds,
            "max_delay": self.max_delay_seconds,
        }
        if gives_way is None:
            return ModelRetryStrategy(**limits)
        return _GivingWayRetry(gives_way, **limits)


class _GivingWayRetry(ModelRetryStrategy):
    """Strands' retry strategy, but a throttled call is not retried while `gives_way()` holds."""

    def __init__(self, gives_way: Callable[[], bool], **limits: int) -> None:
        super().__init__(**limits)
        self._gives_way = gives_way

    def is_retryable(self, exception: Exception) -> bool:
        """Whether to retry `exception`: as Strands does, unless the turn gives way to its fallback."""
        return super().is_retryable(exception) and not self._gives_way()


def text_tool_calls(setting: str) -> TextToolCallSyntax | Literal[False]:
    """Return the provider's `text_tool_calls` for a setting's value (a syntax, or "false" for none)."""
    return False if setting == contract.TEXT_TOOL_CALLS_OFF else cast(TextToolCallSyntax, setting)


class ServedEndpoint(Protocol):
    """What the provider needs to know of an endpoint: the environment's own (`Settings`) or a fallback's."""

    @property
    def endpoint_name(self) -> str:
        """The SageMaker endpoint."""

    @property
    def inference_component_name(self) -> str | None:
        """Its inference component, if the model is one."""

    @property
    def response_format(self) -> str:
        """The provider's response format (`AGENT_RESPONSE_FORMAT`)."""

    @property
    def text_tool_calls(self) -> str:
        """The tool-call syntax read from an answer's text, or "false" (`AGENT_TEXT_TOOL_CALLS`)."""


def model_config(
    endpoint: ServedEndpoint, max_tokens: int, temperature: float, sampling: Mapping[str, Any] | None = None
) -> SageMakerConfig:
    """Return the provider configuration of one request's model (no region: the client is shared).

    `sampling` adds the request's other generation parameters, in OpenAI's names (the provider sends them as
    the response format names them).
    """
    config: SageMakerConfig = {
        "endpoint_name": endpoint.endpoint_name,
        "response_format": endpoint.response_format,
        "text_tool_calls": text_tool_calls(endpoint.text_tool_calls),
        "params": {**(sampling or {}), "max_tokens": max_tokens, "temperature": temperature},
    }
    if endpoint.inference_component_name is not None:
        config["inference_component_name"] = endpoint.inference_component_name
    return config


def validate_model_config(settings: Settings) -> None:
    """Have the provider check the configuration the settings give it, without building anything.

    Raises:
        ValueError: the provider rejects it (e.g. a response format that is not registered).

    """
    validate_config(model_config(settings, settings.max_tokens, settings.temperature))


def create_runtime_client(boto_session: boto3.Session, region: str | None) -> SageMakerRuntimeClient:
    """Create the process's `sagemaker-runtime` client: the model timeouts, no botocore retries.

    Without a region it takes the boto3 session's (AWS_REGION in Lambda).
    """
    return create_client(region, None, boto_session, MODEL_CLIENT_CONFIG)


class AgentFactory:
    """Makes one agent per request; holds what is shared between requests (the model client, settings).

    Raises `agent_api.python_tools.ToolLoadError` when an enabled Python tool cannot be loaded.
    """

    def __init__(self, settings: Settings, client: SageMakerRuntimeClient, retry_policy: RetryPolicy) -> None:
        self.settings = settings
        self._client = client
        self._retry_policy = retry_policy
        self._tools = load_tools(settings.tools, TOOL_CATALOG)

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The names of the enabled Python tools, which every agent has."""
        return tuple(tool.tool_name for tool in self._tools)

    @property
    def model_name(self) -> str:
        """What the `done` event calls the endpoint's own model: its endpoint, and component after a slash."""
        return endpoint_model_name(self.settings.endpoint_name, self.settings.inference_component_name)

    def model(
        self, max_tokens: int, temperature: float, sampling: Mapping[str, Any] | None = None
    ) -> SageMakerModel:
        """Build the provider for one request, with the request's generation parameters."""
        return SageMakerModel(
            client=self._client, **model_config(self.settings, max_tokens, temperature, sampling)
        )

    async def signal_demand(self) -> None:
        """Invoke the model once for a single token, so that SageMaker's metrics count one request.

        While its inference component has no copy, SageMaker refuses it at once (`ModelNotReadyError`) and
        counts it in `NoCapacityInvocationFailures` (agent_api.warming says why that matters).
        """
        model = self.model(max_tokens=1, temperature=self.settings.temperature)
        async for _ in model.stream(DEMAND_PROMPT):
            pass

    def agent(
        self,
        request: TurnRequest,
        session_manager: SessionManager | None,
        extra_tools: Sequence[AgentTool] = (),
        *,
        model: Model | None = None,
        gives_way: Callable[[], bool] | None = None,
    ) -> Agent:
        """Build a fresh agent; with a session manager it starts from the session's saved conversation.

        Without one it starts from the request's `history`; the request's `instructions` are added after
        the deployment's system prompt, which always comes first. `extra_tools` join the enabled Python
        tools (the tool sources' for this turn, agent_api.tool_sources). It answers with the endpoint's own
        model unless given another (a fallback's); while `gives_way()` holds, a throttled call is not retried.
        """
        system_prompt = self.settings.system_prompt
        if request.instructions:
            system_prompt = f"{system_prompt}\n\n{request.instructions}"
        return Agent(
            model=model or self.model(request.max_tokens, request.temperature, request.sampling),
            # A copy: the agent appends to its messages, and a turn that waited for the model builds another.
            messages=copy.deepcopy(request.history) or None,
            tools=[*self._tools, *extra_tools],
            system_prompt=system_prompt,
            session_manager=session_manager,
            retry_strategy=self._retry_policy.strategy(gives_way),
            callback_handler=None,
        )
