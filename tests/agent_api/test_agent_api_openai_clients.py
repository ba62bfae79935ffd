"""What popular OpenAI clients send by default is accepted (issue 24 part 3): each recorded request body
(`tests/fixtures/openai_clients/`, written from the clients' source) is answered, its sampling parameters
reach the model's request, and what asks nothing of the answer is left out of it; what would change the
meaning is still refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from agent_api import contract
from agent_api.doors.openai import parameters
from local.tiny_model.script import PLAIN_TEXT as HELLO
from tests.agent_api.harness import HarnessFactory
from tests.support.openai_sdk import openai_client
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream

RECORDINGS = Path(__file__).parents[1] / "fixtures" / "openai_clients"
BODIES = sorted(RECORDINGS.glob("*.json"))
COMPLETIONS = contract.OPENAI_CHAT_COMPLETIONS_PATH
# What the model is given of a request besides its messages (the provider adds `stream`, `stream_options`).
PASSED = {"max_tokens", "temperature", *parameters.SAMPLING}


def hello() -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"))


def answer_text(response: Any, streamed: bool) -> str:
    if not streamed:
        return str(response.json()["choices"][0]["message"]["content"])
    chunks = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: {")
    ]
    return "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"])


@pytest.mark.parametrize("recording", BODIES, ids=[path.stem for path in BODIES])
def test_each_clients_request_is_answered_and_its_sampling_reaches_the_model(
    harness: HarnessFactory, recording: Path
) -> None:
    body = json.loads(recording.read_text())
    app = harness([hello()])
    response = app.client.post(COMPLETIONS, json=body)
    assert response.status_code == 200, response.text
    assert answer_text(response, bool(body.get("stream"))) == HELLO
    sent = app.runtime.bodies[0]
    expected = {
        name: value
        for name, value in body.items()
        if name in parameters.SAMPLING and value not in (None, 0, 1, [])
    }
    assert {name: sent[name] for name in expected} == expected
    # A default (top_p 1, a penalty of 0) asks for nothing; nothing else of the client's reaches the model.
    assert set(sent) - {"messages", "stream", "stream_options", "tools", "model"} <= PASSED
    assert not {
        name for name in ("top_p", "frequency_penalty", "presence_penalty") if sent.get(name) in (0, 1)
    }


def test_sampling_parameters_given_through_the_sdk_reach_the_model(harness: HarnessFactory) -> None:
    app = harness([hello()])
    openai_client(str(app.client.base_url)).chat.completions.create(
        model=contract.OPENAI_MODEL_ID,
        messages=[{"role": "user", "content": "Hi"}],
        top_p=0.5,
        stop="END",
        seed=3,
        frequency_penalty=-0.5,
        presence_penalty=1.5,
    )
    sent = app.runtime.bodies[0]
    assert (sent["top_p"], sent["stop"], sent["seed"]) == (0.5, ["END"], 3)
    assert (sent["frequency_penalty"], sent["presence_penalty"]) == (-0.5, 1.5)


VALID: dict[str, Any] = {"model": contract.OPENAI_MODEL_ID, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize(
    ("extra", "code", "param"),
    [
        ({"n": 2}, "unsupported_parameter", "n"),
        ({"logprobs": True}, "unsupported_parameter", "logprobs"),
        ({"top_logprobs": 3}, "unsupported_parameter", "top_logprobs"),
        ({"logit_bias": {"50256": -100}}, "unsupported_parameter", "logit_bias"),
        ({"response_format": {"type": "json_object"}}, "unsupported_parameter", "response_format"),
        ({"modalities": ["text", "audio"]}, "unsupported_parameter", "modalities"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools_not_supported", "tools"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
            "tools_not_supported",
            "tool_choice",
        ),
        ({"function_call": "f"}, "tools_not_supported", "function_call"),
        ({"top_p": 0}, "invalid_field", "top_p"),
        ({"top_p": 1.5}, "invalid_field", "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "invalid_field", "stop"),
        ({"stop": [""]}, "invalid_field", "stop"),
        ({"seed": 2**64}, "invalid_field", "seed"),
        ({"seed": 1.5}, "invalid_field", "seed"),
        ({"frequency_penalty": 2.5}, "invalid_field", "frequency_penalty"),
        ({"presence_penalty": "0"}, "invalid_field", "presence_penalty"),
        ({"metadata": {"k": 1}}, "invalid_field", "metadata"),
        ({"store": "yes"}, "invalid_field", "store"),
        (
            {"stream": True, "stream_options": {"include_obfuscation": "no"}},
            "invalid_field",
            "include_obfuscation",
        ),
        ({"web_search_options": {}}, "unsupported_parameter", "web_search_options"),
    ],
)
def test_what_would_change_the_meaning_is_refused(
    harness: HarnessFactory, extra: dict[str, Any], code: str, param: str
) -> None:
    app = harness([hello()])
    response = app.client.post(COMPLETIONS, json={**VALID, **extra})
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (code, param)
    assert app.runtime.requests == []


def test_the_agents_model_is_described_and_any_other_is_openais_404(harness: HarnessFactory) -> None:
    client = openai_client(str(harness([]).client.base_url))
    model = client.models.retrieve(contract.OPENAI_MODEL_ID)
    assert (model.id, model.owned_by) == (contract.OPENAI_MODEL_ID, contract.SERVICE_NAME)
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-4o")
    assert raised.value.code == "model_not_found"
