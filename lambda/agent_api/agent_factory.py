"""Builds a Strands `Agent` per request from the cold-start settings and the request's generation limits.

Retries: throttling is retried by Strands' `ModelRetryStrategy` only (botocore's own retries are off, so
the two do not multiply). The default policy's total backoff is bounded by `RETRY_BACKOFF_BUDGET_SECONDS`,
a small fraction of the shortest Lambda timeout this API supports (`MIN_LAMBDA_TIMEOUT_SECONDS`), leaving
the rest of the time for the answer itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from strands import Agent, ModelRetryStrategy
from strands.session.session_manager import SessionManager

from agent_api.contract import MODEL_CONNECT_TIMEOUT_SECONDS, MODEL_READ_TIMEOUT_SECONDS
from agent_api.settings import Settings
from agent_api.tools import TOOLS
from agent_api.validation import ChatRequest
from sagemaker_provider import SageMakerModel

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

    def strategy(self) -> ModelRetryStrategy:
        """Build a fresh Strands retry strategy (it keeps per-invocation state, so one per agent)."""
        return ModelRetryStrategy(
            max_attempts=self.max_attempts,
            initial_delay=self.initial_delay_seconds,
            max_delay=self.max_delay_seconds,
        )

    def backoff_seconds(self) -> int:
        """Total sleep of one request throttled on every attempt."""
        return sum(
            min(self.initial_delay_seconds * 2**attempt, self.max_delay_seconds)
            for attempt in range(self.max_attempts - 1)
        )


class AgentFactory:
    """Makes one agent per request; holds what is shared between requests (boto3 session, settings)."""

    def __init__(self, settings: Settings, boto_session: boto3.Session, retry_policy: RetryPolicy) -> None:
        self.settings = settings
        self._boto_session = boto_session
        self._retry_policy = retry_policy
        self._tools = [TOOLS[name] for name in settings.tools]
        # One boto3 client for every request: building one costs tens of ms, and clients are thread-safe.
        self._client: Any = None

    def model(self, max_tokens: int, temperature: float) -> SageMakerModel:
        """Build the provider for one request, with the request's generation limits."""
        # Without a region, the provider takes the boto3 session's (AWS_REGION in Lambda).
        region = {"region_name": self.settings.region} if self.settings.region else {}
        model = SageMakerModel(
            endpoint_name=self.settings.endpoint_name,
            response_format=self.settings.response_format,
            params={"max_tokens": max_tokens, "temperature": temperature},
            boto_session=self._boto_session,
            client_config=MODEL_CLIENT_CONFIG,
            client=self._client,
            **region,
        )
        self._client = model.client
        return model

    def agent(self, request: ChatRequest, session_manager: SessionManager | None) -> Agent:
        """Build a fresh agent; with a session manager it starts from the session's saved conversation."""
        return Agent(
            model=self.model(request.max_tokens, request.temperature),
            tools=list(self._tools),
            system_prompt=self.settings.system_prompt,
            session_manager=session_manager,
            retry_strategy=self._retry_policy.strategy(),
            callback_handler=None,
        )
