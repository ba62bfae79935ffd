"""A model scaled to zero: `/chat` wakes it and waits (or refuses at once), `/status` and `/warm`.

The emulator plays SageMaker: its inference component starts with no copy, refuses invocations as SageMaker
does, and answers the `sagemaker` client's DescribeInferenceComponent / UpdateInferenceComponentRuntimeConfig.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import httpx
import openai
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from agent_api.app import create_app
from agent_api.settings import Settings, SettingsError
from agent_api.warming import WarmingPolicy
from local.emulator.components import InferenceComponent
from local.tiny_model.script import PLAIN_TEXT as HELLO
from tests.agent_api.doors import Door, every_door
from tests.agent_api.harness import FAST_RETRIES, json_lines, serve, total
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import SageMakerRuntime, Stream, Throttle

COMPONENT = "test-component"
# Checks every 50 ms so the tests are quick; the production policy is checked on its own.
FAST_POLL = 0.05


class Cold:
    """The app in front of an emulated endpoint whose inference component has no copy in service."""

    def __init__(self, client: httpx.Client, runtime: SageMakerRuntime) -> None:
        self.client = client
        self.runtime = runtime

    @property
    def component(self) -> InferenceComponent:
        return self.runtime.emulator.components[COMPONENT]

    @property
    def copy_count_requests(self) -> list[int]:
        return self.component.copy_count_requests

    def chat(self, body: dict[str, Any]) -> list[ServerSentEvent]:
        with connect_sse(self.client, "POST", "/chat", json=body) as source:
            source.response.raise_for_status()
            return list(source.iter_sse())


ColdFactory = Callable[..., Cold]


@pytest.fixture
def cold(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ColdFactory]:
    """`cold(warm_up_seconds, budget_seconds=5, component=COMPONENT, **settings_overrides)`: a scaled-to-zero
    endpoint and the app."""
    with ExitStack() as stack:

        def start(
            warm_up_seconds: float, budget_seconds: float = 5.0, component: str = COMPONENT, **overrides: Any
        ) -> Cold:
            runtime = stack.enter_context(
                SageMakerRuntime(
                    Stream(fixture_parts("vllm/chat_stream_usage.txt")),
                    inference_components=(COMPONENT,),
                    component_copies=0,
                    warm_up_seconds=warm_up_seconds,
                )
            )
            monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.url)
            app = create_app(
                replace(settings, inference_component_name=component, **overrides),
                retry_policy=FAST_RETRIES,
                sagemaker_client=runtime.control_client(),
                warming_policy=WarmingPolicy(budget_seconds=budget_seconds, poll_seconds=FAST_POLL),
            )
            base_url = stack.enter_context(serve(app))
            return Cold(stack.enter_context(httpx.Client(base_url=base_url, timeout=30)), runtime)

        yield start


def _text(events: list[ServerSentEvent]) -> str:
    return "".join(event.json()["delta"] for event in events if event.event == "text")


def test_cold_request_streams_warming_status_then_the_answer(cold: ColdFactory) -> None:
    app = cold(warm_up_seconds=0.3)

    events = app.chat({"prompt": "Hi"})

    statuses = [event for event in events if event.event == "status"]
    assert statuses and all(event.json()["state"] == "warming" for event in statuses)
    assert all(isinstance(event.json()["elapsed_s"], int) for event in statuses)
    assert events.index(statuses[-1]) < min(i for i, e in enumerate(events) if e.event == "text")
    assert _text(events) == HELLO
    assert events[-1].event == "done"
    assert app.copy_count_requests == [1]


def test_request_that_does_not_wait_gets_503_model_warming_with_retry_after(cold: ColdFactory) -> None:
    app = cold(warm_up_seconds=60)

    response = app.client.post("/chat", json={"prompt": "Hi", "wait": False})

    assert response.status_code == 503
    assert response.json()["code"] == "model_warming"
    assert int(response.headers["retry-after"]) >= 1
    # The model was asked to wake all the same: the caller's retry finds it warmer.
    assert app.copy_count_requests == [1]


def test_a_model_warming_refusal_is_counted_for_the_api_5xx_alarm_to_leave_out(
    cold: ColdFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = cold(warm_up_seconds=60)

    app.client.post("/chat", json={"prompt": "Hi", "wait": False})

    documents = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    refusals = [doc for doc in documents if "ModelWarmingRefusals" in doc]
    assert len(refusals) == 1
    assert total(refusals[0], "ModelWarmingRefusals") == 1
    assert refusals[0]["service"] == "agent-api"


@every_door
def test_a_cold_request_ends_once_as_answered_or_as_refused(
    cold: ColdFactory,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    door: Door,
) -> None:
    # A stream waits and is answered: its turn ends as answered, not as the failure it met first. A whole
    # answer cannot wait: it is refused (503, counted as such).
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = cold(warm_up_seconds=0.3)

    response = door.post(app.client, "Hi")

    ends = [line for line in json_lines(logs.getvalue()) if line.get("message", "").startswith("chat turn ")]
    documents = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    assert len(ends) == 1
    assert len(documents) == 1
    if door.streamed:
        assert response.status_code == 200
        assert ends[0]["message"] == "chat turn finished"
        assert "Errors" not in documents[0]
        assert total(documents[0], "OutputTokens") == 10
        # The caller's time to first token: the 0.3 s the model took to wake included.
        assert total(documents[0], "TimeToFirstToken") >= 300
    else:
        assert response.status_code == 503
        assert (ends[0]["message"], ends[0]["code"]) == ("chat turn failed", "model_warming")
        assert total(documents[0], "ModelWarmingRefusals") == 1


def test_warming_longer_than_the_budget_ends_with_model_warming_and_the_time_waited(
    cold: ColdFactory,
) -> None:
    app = cold(warm_up_seconds=60, budget_seconds=0.3)

    events = app.chat({"prompt": "Hi"})

    assert [event.event for event in events[:-1]] == ["status"] * (len(events) - 1)
    assert events[-1].event == "error"
    error = events[-1].json()
    assert error["code"] == "model_warming"
    assert error["waited_s"] == 0  # 0.3 s, rounded
    assert app.runtime.container.received == []


def test_two_requests_during_one_warm_up_start_one_copy(cold: ColdFactory) -> None:
    app = cold(warm_up_seconds=0.5)
    answers: list[str] = []

    def ask() -> None:
        answers.append(_text(app.chat({"prompt": "Hi"})))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert answers == [HELLO, HELLO]
    assert app.copy_count_requests == [1]


def test_cold_request_on_a_session_answers_and_keeps_the_turn(
    cold: ColdFactory, sessions_bucket: str
) -> None:
    app = cold(warm_up_seconds=0.2, sessions_bucket=sessions_bucket)

    first = app.chat({"prompt": "My name is Ada.", "session_id": "conv-1"})
    second = app.chat({"prompt": "What is my name?", "session_id": "conv-1"})

    assert first[-1].json()["session_id"] == "conv-1"
    assert second[-1].event == "done"
    # The turn that found the model asleep left nothing: the session holds the answered turn once.
    assert "My name is Ada." in str(app.runtime.bodies[-1])
    assert str(app.runtime.bodies[-1]).count("My name is Ada.") == 1


def test_a_session_stays_locked_while_its_turn_waits_for_the_model(
    cold: ColdFactory, sessions_bucket: str
) -> None:
    app = cold(warm_up_seconds=60, sessions_bucket=sessions_bucket)
    body = {"prompt": "My name is Ada.", "session_id": "conv-1"}

    with connect_sse(app.client, "POST", "/chat", json=body) as source:
        events = source.iter_sse()
        assert next(events).event == "status"
        busy = app.client.post("/chat", json={"prompt": "Hi", "session_id": "conv-1"})
        app.component.warm_up_seconds = 0
        rest = list(events)

    # One turn at a time, waiting included: the second would otherwise race the first to save the session.
    assert (busy.status_code, busy.json()["code"]) == (409, "session_busy")
    assert rest[-1].event == "done"


def test_status_reports_scaled_to_zero_then_warming_then_in_service(cold: ColdFactory) -> None:
    app = cold(warm_up_seconds=0.3)

    before = app.client.get("/status").json()
    warm = app.client.post("/warm")
    during = app.client.get("/status").json()
    app.runtime.emulator.components[COMPONENT].warm_up_seconds = 0
    after = app.client.get("/status").json()

    assert before == {"state": "scaled_to_zero", "desired_copies": 0, "current_copies": 0}
    assert (warm.status_code, warm.json()["state"]) == (202, "warming")
    assert during == {"state": "warming", "desired_copies": 1, "current_copies": 0}
    assert after == {"state": "in_service", "desired_copies": 1, "current_copies": 1}


def test_warm_twice_asks_for_one_copy_and_warm_when_in_service_answers_200(cold: ColdFactory) -> None:
    app = cold(warm_up_seconds=0)

    first, second = app.client.post("/warm"), app.client.post("/warm")

    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["state"] == "in_service"
    assert app.copy_count_requests == [1]


def test_warm_at_zero_sends_one_invocation_that_sagemaker_refuses_and_counts(cold: ColdFactory) -> None:
    # The count is what keeps the stack's idle alarm from removing the copy again (agent_api.warming).
    app = cold(warm_up_seconds=60)

    response = app.client.post("/warm")

    assert response.status_code == 202
    assert (app.component.no_capacity_invocation_failures, app.component.invocations) == (1, 0)
    assert app.runtime.bodies[0]["max_tokens"] == 1
    assert app.runtime.container.received == []
    assert app.copy_count_requests == [1]


def test_warm_sends_no_invocation_once_a_copy_is_wanted_or_in_service(cold: ColdFactory) -> None:
    app = cold(warm_up_seconds=60)

    app.client.post("/warm")
    again = app.client.post("/warm")
    app.component.warm_up_seconds = 0
    in_service = app.client.post("/warm")

    assert (again.status_code, in_service.status_code) == (202, 200)
    assert len(app.runtime.requests) == 1
    assert app.copy_count_requests == [1]


def test_a_failed_demand_invocation_still_asks_for_the_copy(cold: ColdFactory) -> None:
    app = cold(warm_up_seconds=60)
    app.runtime.script(Throttle())

    response = app.client.post("/warm")

    assert (response.status_code, response.json()["state"]) == (202, "warming")
    assert app.component.no_capacity_invocation_failures == 0
    assert app.copy_count_requests == [1]


def test_streamed_openai_completion_waits_for_the_model_and_the_sdk_reads_the_answer(
    cold: ColdFactory,
) -> None:
    app = cold(warm_up_seconds=0.3)
    client = openai.OpenAI(base_url=app.client.base_url.join("/v1"), api_key="unused", max_retries=0)

    stream = client.chat.completions.create(
        model="agent", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    assert text == HELLO
    assert app.copy_count_requests == [1]


def test_streamed_openai_completion_keeps_its_stream_alive_with_comments_while_the_model_warms(
    cold: ColdFactory,
) -> None:
    app = cold(warm_up_seconds=60, budget_seconds=0.3)

    response = app.client.post(
        "/v1/chat/completions",
        json={"model": "agent", "messages": [{"role": "user", "content": "Hi"}], "stream": True},
    )

    assert response.status_code == 200
    *waiting, last = [block for block in response.text.split("\n\n") if block]
    assert waiting and all(block.startswith(": model warming, ") for block in waiting)
    error = json.loads(last.removeprefix("data: "))["error"]
    assert (error["code"], error["type"], error["waited_s"]) == ("model_warming", "server_error", 0)
    assert app.copy_count_requests == [1]


def test_whole_openai_completion_is_refused_at_once_with_retry_after_and_wakes_the_model(
    cold: ColdFactory,
) -> None:
    app = cold(warm_up_seconds=60)

    response = app.client.post(
        "/v1/chat/completions", json={"model": "agent", "messages": [{"role": "user", "content": "Hi"}]}
    )

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_warming"
    assert int(response.headers["retry-after"]) >= 1
    assert app.copy_count_requests == [1]


def test_status_of_a_component_the_control_plane_does_not_know_is_a_502(cold: ColdFactory) -> None:
    app = cold(warm_up_seconds=0, component="other-component")

    response = app.client.get("/status")

    assert response.status_code == 502
    assert response.json() == {
        "code": "model_status_unavailable",
        "message": "the model's state could not be read or changed (ValidationException)",
    }


def test_classic_endpoint_is_always_in_service(harness: Any) -> None:
    app = harness([])

    status, warm = app.client.get("/status"), app.client.post("/warm")

    assert (status.status_code, status.json()) == (200, {"state": "in_service"})
    assert (warm.status_code, warm.json()) == (200, {"state": "in_service"})


def test_wait_must_be_a_boolean(harness: Any) -> None:
    app = harness([])

    response = app.post({"prompt": "Hi", "wait": "no"})

    assert response.status_code == 400
    assert response.json() == {"code": "invalid_field", "message": "field 'wait' must be true or false"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("budget_seconds", 0), ("budget_seconds", 900), ("poll_seconds", 31), ("retry_after_seconds", 0)],
)
def test_warming_policy_rejects_values_outside_its_bounds(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        WarmingPolicy(**{field: value})


def test_default_policy_waits_within_api_gateways_limit_with_status_at_least_every_30_s() -> None:
    policy = WarmingPolicy()

    assert policy.budget_seconds < 15 * 60
    assert policy.poll_seconds <= 30


@pytest.mark.parametrize(("value", "expected"), [("my-component-1", "my-component-1"), ("", None)])
def test_inference_component_setting_is_read_and_empty_means_none(value: str, expected: str | None) -> None:
    settings = Settings.from_env({"AGENT_ENDPOINT_NAME": "e", "AGENT_INFERENCE_COMPONENT_NAME": value})

    assert settings.inference_component_name == expected


@pytest.mark.parametrize("value", ["-starts-with-a-dash", "has_underscore", "x" * 64])
def test_inference_component_setting_rejects_names_sagemaker_refuses(value: str) -> None:
    with pytest.raises(SettingsError, match="AGENT_INFERENCE_COMPONENT_NAME"):
        Settings.from_env({"AGENT_ENDPOINT_NAME": "e", "AGENT_INFERENCE_COMPONENT_NAME": value})
