"""A fallback model answers at once while the endpoint's own model has no copy in service (issue 23).

The emulator plays every AWS part: the own model is an inference component at zero copies (SageMaker's
refusal, DescribeInferenceComponent, UpdateInferenceComponentRuntimeConfig); a Bedrock fallback is its
Converse (a second emulator, `BedrockRuntime`, reached through `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` as the
local stack does); an endpoint fallback is a second endpoint of the same emulator, in service.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from agent_api import contract
from agent_api.app import create_app
from agent_api.fallback_settings import BedrockFallback, BedrockModelId, EndpointFallback
from agent_api.settings import Settings, SettingsError
from agent_api.warming import WarmingPolicy
from local.emulator import Faults
from local.emulator.components import InferenceComponent
from tests.agent_api.doors import Door, every_door
from tests.agent_api.harness import FAST_RETRIES, json_lines, serve, total
from tests.support.bedrock_runtime import MODEL_ID, BedrockRuntime
from tests.support.otlp_collector import OtlpCollector
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Step, Stream, Throttle

COMPONENT = "test-component"
OWN_MODEL = f"{ENDPOINT}/{COMPONENT}"
FALLBACK_ENDPOINT = "small-endpoint"
FALLBACK_COMPONENT = "small-component"
BEDROCK = BedrockFallback(BedrockModelId(MODEL_ID, MODEL_ID.removeprefix("us."), "us"))
ENDPOINT_FALLBACK = EndpointFallback(FALLBACK_ENDPOINT, FALLBACK_COMPONENT)
HELLO = "Hello! I am a tiny test model."
WEATHER = "Sunny in Paris, 21 degrees"
FAST_POLL = 0.05


def _chunk(finish: str | None = None, **delta: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}).encode() + b"\n\n"


def hello() -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"))


def tool_call() -> Stream:
    return Stream(fixture_parts("vllm/tools_auto_stream.txt"))


def tool_answer() -> Stream:
    return Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))


# What a server may write that Bedrock refuses: reasoning without a signature, a tool call id with a space
# and a slash.
OWN_TOOL_CALL = Stream(
    [
        _chunk(role="assistant", content=""),
        _chunk(reasoning="Look it up."),
        _chunk(
            tool_calls=[
                {"index": 0, "id": "call 1/w", "type": "function", "function": {"name": "get_weather"}}
            ]
        ),
        _chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]),
        _chunk(finish="tool_calls"),
        b"data: [DONE]\n\n",
    ]
)


@dataclass
class Deployment:
    """The app, the own model's SageMaker runtime and the Bedrock runtime of a Bedrock fallback."""

    client: httpx.Client
    runtime: SageMakerRuntime
    bedrock: BedrockRuntime

    @property
    def component(self) -> InferenceComponent:
        return self.runtime.emulator.components[COMPONENT]

    def chat(self, body: dict[str, Any]) -> list[ServerSentEvent]:
        with connect_sse(self.client, "POST", "/chat", json=body) as source:
            source.response.raise_for_status()
            return list(source.iter_sse())

    def wake_now(self) -> None:
        """Bring the copy asked for into service at once (on AWS: minutes)."""
        self.component.warm_up_seconds = 0


DeploymentFactory = Callable[..., Deployment]


@pytest.fixture
def deployment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeploymentFactory]:
    """`deployment(own=[steps], bedrock=[replies], fallback=BEDROCK, copies=0, **settings_overrides)`."""
    with ExitStack() as stack:

        def start(
            own: list[Step] | None = None,
            bedrock: list[Any] | None = None,
            fallback: Any = BEDROCK,
            copies: int = 0,
            **overrides: Any,
        ) -> Deployment:
            runtime = stack.enter_context(
                SageMakerRuntime(
                    *(own or [hello()]),
                    inference_components=(COMPONENT,),
                    component_copies=copies,
                    warm_up_seconds=60,
                    more_endpoints={FALLBACK_ENDPOINT: (FALLBACK_COMPONENT,)},
                )
            )
            bedrock_runtime = stack.enter_context(BedrockRuntime(*(bedrock or [hello()])))
            monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.url)
            monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock_runtime.url)
            configured = {"inference_component_name": COMPONENT, "fallback": fallback, **overrides}
            app = create_app(
                replace(settings, **configured),
                retry_policy=FAST_RETRIES,
                sagemaker_client=runtime.control_client(),
                warming_policy=WarmingPolicy(budget_seconds=5, poll_seconds=FAST_POLL),
            )
            client = stack.enter_context(httpx.Client(base_url=stack.enter_context(serve(app)), timeout=30))
            return Deployment(client, runtime, bedrock_runtime)

        yield start


def _text(events: list[ServerSentEvent]) -> str:
    return "".join(event.json()["delta"] for event in events if event.event == "text")


@pytest.mark.parametrize(
    ("fallback", "name"), [(BEDROCK, MODEL_ID), (ENDPOINT_FALLBACK, ENDPOINT_FALLBACK.name)]
)
def test_at_zero_the_fallback_answers_at_once_says_so_first_and_the_model_is_woken_once(
    deployment: DeploymentFactory, fallback: Any, name: str
) -> None:
    app = deployment(fallback=fallback)

    events = app.chat({"prompt": "Hi"})

    assert (events[0].event, events[0].json()) == ("status", {"state": "fallback", "model": name})
    assert _text(events) == HELLO
    assert events[-1].event == "done"
    assert events[-1].json()["model"] == name
    # The wake is the same as without a fallback: the refused invocation, then one copy asked for.
    assert app.component.no_capacity_invocation_failures >= 1
    assert app.component.copy_count_requests == [1]


@every_door
def test_every_door_is_answered_by_the_fallback_and_says_so(
    deployment: DeploymentFactory, door: Door
) -> None:
    app = deployment()

    response = door.post(app.client, "Hi")

    assert door.outcome(response) == 200
    status = {"state": "fallback", "model": MODEL_ID}
    if door.id == "chat":
        assert response.text.startswith(f"event: status\ndata: {json.dumps(status, separators=(',', ':'))}")
    # Every other door carries it as an agent event (docs/agent-api.md), named as /chat names it.
    answer = door.read(response)
    assert answer.agent_events == [{"type": "status", **status}]
    assert answer.text == HELLO
    assert app.component.copy_count_requests == [1]


def test_wait_false_is_answered_by_the_fallback_not_refused(deployment: DeploymentFactory) -> None:
    app = deployment()

    response = app.client.post("/chat", json={"prompt": "Hi", "wait": False})

    assert response.status_code == 200
    assert 'event: status\ndata: {"state":"fallback"' in response.text
    assert app.component.copy_count_requests == [1]


def test_tool_calls_run_through_the_fallback(deployment: DeploymentFactory) -> None:
    app = deployment(bedrock=[tool_call(), tool_answer()], tools=("get_weather",))

    events = app.chat({"prompt": "What is the weather in Paris?"})

    names = [event.event for event in events]
    assert names[0] == "status"
    assert names.index("tool_use") < names.index("tool_result") < names.index("text")
    assert events[names.index("tool_result")].json()["status"] == "success"
    assert _text(events) == WEATHER
    assert events[-1].json()["model"] == MODEL_ID
    assert len(app.bedrock.calls) == 2


def test_once_a_copy_is_in_service_the_next_turn_of_the_session_is_the_models_and_sees_the_fallbacks(
    deployment: DeploymentFactory, sessions_bucket: str
) -> None:
    app = deployment(
        own=[tool_answer()],
        bedrock=[tool_call(), tool_answer()],
        tools=("get_weather",),
        sessions_bucket=sessions_bucket,
    )
    first = app.chat({"prompt": "Weather in Paris?", "session_id": "conv-1"})
    app.wake_now()

    second = app.chat({"prompt": "And tomorrow?", "session_id": "conv-1"})

    assert first[-1].json()["model"] == MODEL_ID
    assert [event.event for event in second] == ["text"] * (len(second) - 1) + ["done"]
    assert second[-1].json()["model"] == OWN_MODEL
    # The own model read the whole conversation the fallback wrote: the prompt, its tool call and result.
    messages = app.runtime.bodies[-1]["messages"]
    assert [message["role"] for message in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert messages[1]["content"] == "Weather in Paris?"
    assert messages[2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert messages[4]["content"] == WEATHER


def test_a_session_the_model_began_continues_on_the_fallback_once_the_model_is_at_zero(
    deployment: DeploymentFactory, sessions_bucket: str
) -> None:
    app = deployment(
        own=[OWN_TOOL_CALL, tool_answer()], copies=1, tools=("get_weather",), sessions_bucket=sessions_bucket
    )
    first = app.chat({"prompt": "Weather in Paris?", "session_id": "conv-1"})
    app.runtime.control_client().update_inference_component_runtime_config(
        InferenceComponentName=COMPONENT, DesiredRuntimeConfig={"CopyCount": 0}
    )

    second = app.chat({"prompt": "And tomorrow?", "session_id": "conv-1"})

    assert first[-1].json()["model"] == OWN_MODEL
    assert second[0].json() == {"state": "fallback", "model": MODEL_ID}
    assert (second[-1].event, _text(second)) == ("done", HELLO)
    # Bedrock's checks passed (the emulator refuses what Bedrock does): what the own model wrote was
    # converted in the copy sent to the fallback, and the stored session keeps it as it was.
    (sent,) = [json.loads(call.body) for call in app.bedrock.calls]
    assert "reasoningContent" not in json.dumps(sent["messages"])
    assert sent["messages"][0]["content"][0]["text"] == "Weather in Paris?"
    assert sent["messages"][1]["content"][0]["toolUse"]["toolUseId"].startswith("tooluse_")
    third = app.chat({"prompt": "Thanks", "session_id": "conv-1"})
    assert third[-1].event == "done"


def test_a_fallback_that_fails_ends_with_a_clear_error_and_the_model_still_wakes(
    deployment: DeploymentFactory,
) -> None:
    other = BedrockFallback(BedrockModelId("us.amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0", "us"))
    app = deployment(fallback=other)

    events = app.chat({"prompt": "Hi"})

    assert [event.event for event in events] == ["status", "error"]
    error = events[-1].json()
    assert (error["code"], error["model"], error["cause"]) == (
        "fallback_error",
        "us.amazon.nova-micro-v1:0",
        "ValidationException",
    )
    assert "no copy in service" in error["message"]
    assert app.component.copy_count_requests == [1]


def test_a_whole_completion_the_fallback_fails_is_answered_502_fallback_error(
    deployment: DeploymentFactory,
) -> None:
    app = deployment()
    app.bedrock.emulator.set_faults(Faults(throttle_after_requests=0, throttle_requests=1_000_000))

    response = app.client.post(
        "/v1/chat/completions",
        json={"model": "agent", "messages": [{"role": "user", "content": "Hi"}]},
    )

    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["cause"], error["type"]) == (
        "fallback_error",
        "model_throttled",
        "rate_limit_error",
    )
    assert app.component.copy_count_requests == [1]


def test_with_fallback_on_throttle_a_throttled_first_call_is_answered_at_once_by_the_fallback(
    deployment: DeploymentFactory,
) -> None:
    app = deployment(own=[Throttle()], copies=1, fallback_on_throttle=True)

    events = app.chat({"prompt": "Hi"})

    assert events[0].json() == {"state": "fallback", "model": MODEL_ID}
    assert _text(events) == HELLO
    # Not retried (the fallback answered instead), and no copy asked for: the model is in service.
    assert len(app.runtime.requests) == 1
    assert app.component.copy_count_requests == []


def test_a_throttle_after_the_model_has_answered_part_of_the_turn_is_retried_not_handed_over(
    deployment: DeploymentFactory,
) -> None:
    app = deployment(
        own=[tool_call(), Throttle(), tool_answer()],
        copies=1,
        fallback_on_throttle=True,
        tools=("get_weather",),
    )

    events = app.chat({"prompt": "Weather in Paris?"})

    assert "status" not in [event.event for event in events]
    assert (_text(events), events[-1].json()["model"]) == (WEATHER, OWN_MODEL)
    assert app.bedrock.calls == []


def test_without_fallback_on_throttle_a_throttled_model_is_retried_and_refused_as_before(
    deployment: DeploymentFactory,
) -> None:
    app = deployment(own=[Throttle()], copies=1)

    response = app.client.post("/chat", json={"prompt": "Hi"})

    assert (response.status_code, response.json()["code"]) == (429, "model_throttled")
    assert app.bedrock.calls == []


def test_the_model_in_service_answers_and_done_names_it(deployment: DeploymentFactory) -> None:
    app = deployment(copies=1)

    events = app.chat({"prompt": "Hi"})

    assert events[0].event == "text"
    assert events[-1].json()["model"] == OWN_MODEL
    assert app.bedrock.calls == []


def test_a_fallback_turn_is_logged_and_counted(
    deployment: DeploymentFactory,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = deployment()

    app.chat({"prompt": "Hi"})

    lines = json_lines(logs.getvalue())
    switch = [line for line in lines if line.get("message") == "answering with the fallback model"]
    assert [(line["model"], line["reason"]) for line in switch] == [
        (MODEL_ID, "the model has no copy in service yet")
    ]
    [end] = [line for line in lines if line.get("message") == "chat turn finished"]
    assert end["model"] == MODEL_ID
    [document] = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    assert total(document, "FallbackTurns") == 1


def test_the_fallback_that_answered_is_named_on_the_requests_span(deployment: DeploymentFactory) -> None:
    with OtlpCollector() as collector:
        app = deployment(traces=contract.TRACES_OTLP, otlp_endpoint=collector.url)

        events = app.chat({"prompt": "Hi"})

        [root] = [span for span in collector.spans if span.name == "POST /chat"]
    assert events[-1].json()["model"] == MODEL_ID
    assert root.attributes["agent_api.fallback_model"] == MODEL_ID


def test_an_endpoint_fallback_in_a_format_the_provider_does_not_know_stops_the_app_at_start(
    settings: Settings,
) -> None:
    with pytest.raises(SettingsError, match="AGENT_FALLBACK"):
        create_app(replace(settings, fallback=EndpointFallback("small", None, "no-such-format")))


def test_an_openai_clients_sampling_reaches_a_bedrock_fallback_as_converse_takes_it(
    deployment: DeploymentFactory,
) -> None:
    app = deployment()

    response = app.client.post(
        contract.OPENAI_CHAT_COMPLETIONS_PATH,
        json={
            "model": contract.OPENAI_MODEL_ID,
            "messages": [{"role": "user", "content": "Hi"}],
            "top_p": 0.9,
            "stop": ["END"],
            "seed": 7,
            "presence_penalty": 0.5,
        },
    )

    assert response.status_code == 200
    [call] = app.bedrock.calls
    # Converse's inferenceConfig has topP and stopSequences; it has no seed or penalties to send them as.
    sent = json.loads(call.body)
    assert sent["inferenceConfig"]["topP"] == 0.9
    assert sent["inferenceConfig"]["stopSequences"] == ["END"]
    assert "seed" not in json.dumps(sent) and "penalty" not in json.dumps(sent)


def test_an_openai_clients_sampling_reaches_an_endpoint_fallback(deployment: DeploymentFactory) -> None:
    app = deployment(own=[hello(), hello()], fallback=ENDPOINT_FALLBACK)

    response = app.client.post(
        contract.OPENAI_CHAT_COMPLETIONS_PATH,
        json={
            "model": contract.OPENAI_MODEL_ID,
            "messages": [{"role": "user", "content": "Hi"}],
            "top_p": 0.9,
            "stop": "END",
            "seed": 7,
        },
    )

    assert response.status_code == 200
    [answered] = [request for request in app.runtime.requests if request.endpoint_name == FALLBACK_ENDPOINT]
    sent = json.loads(answered.body)
    assert (sent["top_p"], sent["stop"], sent["seed"]) == (0.9, ["END"], 7)
