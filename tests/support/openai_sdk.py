"""The official `openai` SDK, unmodified, pointed at an agent API."""

from __future__ import annotations

import openai

from agent_api import contract


def openai_client(agent_url: str, **headers: str) -> openai.OpenAI:
    """An SDK client for the agent API at `agent_url` (unauthenticated: the key is a placeholder), sending
    `headers` with every request and never retrying, so tests count the model calls exactly."""
    return openai.OpenAI(
        base_url=f"{agent_url}{contract.OPENAI_PREFIX}",
        api_key="local",
        max_retries=0,
        default_headers=headers or None,
    )
