"""How a server's error is classified: the conditions the agent loop recovers from (a prompt that does not
fit, throttling) apart from request errors, whether the error comes as a ModelError or inside the stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from strands.types.exceptions import ContextWindowOverflowException, ModelThrottledException

from sagemaker_provider import SageMakerModel
from sagemaker_provider.errors import EndpointInvocationError, ModelStreamError
from tests.provider.helpers import parse_parts
from tests.support.sagemaker_runtime import ENDPOINT, ModelError, SageMakerRuntime

USER: Any = [{"role": "user", "content": [{"text": "Hi"}]}]

OVERFLOW_MESSAGES = [
    # OpenAI's own code, kept by OpenAI-compatible proxies (LiteLLM, vLLM routers).
    '{"error": {"message": "Request too long.", "type": "invalid_request_error", '
    '"code": "context_length_exceeded"}}',
    # Generic wording of several servers and gateways.
    '{"error": "Input validation error: too many tokens in the prompt"}',
    # TGI: a prompt too long for the max_new_tokens asked for, which fits once the history is trimmed.
    '{"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192. Given: 8000 '
    '`inputs` tokens and 1024 `max_new_tokens`", "error_type": "validation"}',
]
# More output tokens asked for than the context holds: a request error, which trimming the history cannot fix.
# vLLM before 0.9 (vllm/entrypoints/openai/serving_engine.py) and in 0.32 (vllm/renderers/params.py); TGI
# (router/src/validation.rs, MaxTotalTokens) with max_new_tokens alone over the total.
MAX_TOKENS_TOO_LARGE = [
    "'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context length is "
    "2048 tokens and your request has 10 input tokens (4096 > 2048 - 10).",
    "max_tokens=4096 cannot be greater than max_model_len=2048. Please request fewer output tokens.",
    "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192. Given: 12 `inputs` tokens "
    "and 9000 `max_new_tokens`",
]


async def _error_of(model: SageMakerModel) -> Exception:
    with pytest.raises(Exception) as raised:
        async for _ in model.stream(USER):
            pass
    return raised.value


@pytest.mark.parametrize("body", OVERFLOW_MESSAGES)
async def test_context_overflow_wordings_are_recognised(body: str) -> None:
    with SageMakerRuntime(ModelError(400, body)) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client())
        assert isinstance(await _error_of(model), ContextWindowOverflowException)


@pytest.mark.parametrize("message", MAX_TOKENS_TOO_LARGE)
async def test_max_tokens_too_large_is_a_request_error_not_an_overflow(message: str) -> None:
    body = json.dumps({"object": "error", "message": message, "type": "BadRequestError", "code": 400})
    with SageMakerRuntime(ModelError(400, body)) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client())
        error = await _error_of(model)
    assert isinstance(error, EndpointInvocationError)
    assert error.status_code == 400


@pytest.mark.parametrize("message", MAX_TOKENS_TOO_LARGE)
def test_max_tokens_too_large_inside_the_stream_is_a_stream_error(message: str) -> None:
    error = {"object": "error", "message": message, "type": "BadRequestError", "code": 400}
    events = parse_parts([b"data: " + json.dumps(error).encode() + b"\n\n"], "openai-chat")
    assert isinstance(events[-1], ModelStreamError)


@pytest.mark.parametrize(
    "error",
    [
        {"object": "error", "message": "Too many requests", "type": "TooManyRequests", "code": 429},
        {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": 429}},
        {"error": "The server is busy", "status": 429},
    ],
)
def test_error_object_with_status_429_in_the_stream_is_throttling(error: dict[str, Any]) -> None:
    events = parse_parts([b"data: " + json.dumps(error).encode() + b"\n\n"], "openai-chat")
    assert isinstance(events[-1], ModelThrottledException)
