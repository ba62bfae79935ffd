"""API Gateway's request model lets through exactly the bodies the app's own validation accepts.

The model (an ``AWS::ApiGateway::Model`` JSON Schema, draft 4) is checked with jsonschema's Draft4Validator,
the app with ``parse_chat_request`` under the settings the deployed function gets, on bodies at every edge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from jsonschema import Draft4Validator

from agent_api.settings import Settings
from agent_api.validation import RequestError, parse_chat_request
from tests.infra.infra_support import Synthesized, agent_function, cdk_context, deployed_values, only

pytestmark = pytest.mark.infra

ENVIRONMENTS = sorted(cdk_context()["environments"])


@dataclass(frozen=True)
class Case:
    """A request body and whether the API accepts it; ``model_cannot`` says why the model lets it through."""

    name: str
    body: Any
    accepted: bool
    model_cannot: str | None = None


def corpus(max_prompt_chars: int, max_tokens: int) -> list[Case]:
    """Bodies at every edge of the request rules, for a deployment's prompt and token limits."""

    def chat(**fields: Any) -> dict[str, Any]:
        return {"prompt": "Hi", **fields}

    return [
        Case("prompt only", chat(), True),
        Case("every field", chat(session_id="s-1", max_tokens=1, temperature=0, wait=False), True),
        Case("wait true", chat(wait=True), True),
        Case("wait null", chat(wait=None), True),
        Case("wait a string", chat(wait="no"), False),
        Case("wait 0", chat(wait=0), False),
        Case("prompt at the limit", {"prompt": "x" * max_prompt_chars}, True),
        Case("prompt of astral characters at the limit", {"prompt": "\U0001f600" * max_prompt_chars}, True),
        Case("prompt over the limit", {"prompt": "x" * (max_prompt_chars + 1)}, False),
        Case("prompt missing", {}, False),
        Case("empty prompt", {"prompt": ""}, False),
        Case(
            "blank prompt",
            {"prompt": " \n\t"},
            False,
            model_cannot="JSON Schema has no portable form of Python's str.strip(); the app rejects it",
        ),
        Case("prompt not a string", {"prompt": 42}, False),
        Case("prompt null", {"prompt": None}, False),
        Case("prompt a list", {"prompt": ["Hi"]}, False),
        Case("session id of one letter", chat(session_id="a"), True),
        Case("session id of one digit", chat(session_id="7"), True),
        Case("session id with _ and - inside", chat(session_id="a_b-c"), True),
        Case("session id of 128 characters", chat(session_id="a" * 128), True),
        Case("session id of 129 characters", chat(session_id="a" * 129), False),
        Case("session id empty", chat(session_id=""), False),
        Case("session id with a leading _", chat(session_id="_abc"), False),
        Case("session id with a leading -", chat(session_id="-abc"), False),
        Case("session id with a trailing newline", chat(session_id="abc\n"), False),
        Case("session id with a leading newline", chat(session_id="\nabc"), False),
        Case("session id with a slash", chat(session_id="a/b"), False),
        Case("session id with a dot", chat(session_id="a.b"), False),
        Case("session id with a space", chat(session_id="a b"), False),
        Case("session id with a non-ASCII letter", chat(session_id="caf\u00e9"), False),
        Case("session id a number", chat(session_id=7), False),
        Case("session id null", chat(session_id=None), True),
        Case("max_tokens 1", chat(max_tokens=1), True),
        Case("max_tokens at the limit", chat(max_tokens=max_tokens), True),
        Case("max_tokens over the limit", chat(max_tokens=max_tokens + 1), False),
        Case("max_tokens 0", chat(max_tokens=0), False),
        Case("max_tokens negative", chat(max_tokens=-1), False),
        Case("max_tokens a fraction", chat(max_tokens=1.5), False),
        Case("max_tokens a whole float", chat(max_tokens=1.0), False),
        Case("max_tokens a string", chat(max_tokens="10"), False),
        Case("max_tokens true", chat(max_tokens=True), False),
        Case("max_tokens null", chat(max_tokens=None), True),
        Case("temperature 0", chat(temperature=0), True),
        Case("temperature 2", chat(temperature=2), True),
        Case("temperature 2.0", chat(temperature=2.0), True),
        Case("temperature 0.7", chat(temperature=0.7), True),
        Case("temperature below 0", chat(temperature=-0.1), False),
        Case("temperature above 2", chat(temperature=2.01), False),
        Case("temperature an integer too large for a float", chat(temperature=10**400), False),
        Case("temperature a string", chat(temperature="hot"), False),
        Case("temperature true", chat(temperature=True), False),
        Case("temperature null", chat(temperature=None), True),
        Case("unknown field", chat(model="gpt"), False),
        Case("body a list", [chat()], False),
        Case("body a string", "Hi", False),
        Case("body null", None, False),
    ]


def app_accepts(body: Any, settings: Settings) -> bool:
    try:
        parse_chat_request(json.dumps(body).encode(), settings)
    except RequestError:
        return False
    return True


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_model_accepts_exactly_what_the_app_accepts(synthesized: Synthesized, environment: str) -> None:
    stack_name = f"SageMakerAgent-{environment}"
    template = synthesized.templates[stack_name]
    variables = deployed_values(agent_function(template)["Environment"]["Variables"], template, stack_name)
    settings = Settings.from_env(variables)
    model = Draft4Validator(only(template, "AWS::ApiGateway::Model")["Schema"])
    wrong = []
    for case in corpus(settings.max_prompt_chars, settings.max_tokens):
        verdicts = {"model": model.is_valid(case.body), "app": app_accepts(case.body, settings)}
        expected = {"model": case.model_cannot is not None or case.accepted, "app": case.accepted}
        if verdicts != expected:
            wrong.append(f"{case.name}: expected {expected}, got {verdicts}")
    assert wrong == [], "\n".join(wrong)


def test_the_model_states_the_session_id_rule_without_an_end_anchor(synthesized: Synthesized) -> None:
    # Python's and Java's '$' also match before a final newline; ECMA 262's does not. Without '$' the rule
    # means the same in every engine API Gateway could use.
    schema = only(synthesized.templates["SageMakerAgent-dev"], "AWS::ApiGateway::Model")["Schema"]
    assert "$" not in json.dumps(schema["properties"]["session_id"])
