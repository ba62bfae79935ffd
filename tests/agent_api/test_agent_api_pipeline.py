"""The turn pipeline (`agent_api.pipeline`, `agent_api.turn`) through every door, streamed and whole: a client
that leaves is noticed at once, whenever it leaves; its turn is cancelled and its session released; every
turn ends with exactly one end line and one metrics document."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from tests.agent_api.doors import Door, every_door
from tests.agent_api.harness import Harness, HarnessFactory, json_lines, total, wait_until
from tests.support.recordings import calculator_call_parts, fixture_parts
from tests.support.sagemaker_runtime import Step, Stream, Throttle

END_LINES = ("chat turn finished", "chat turn failed", "chat turn cancelled")


def hello(pause_after: int | None = None) -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=pause_after)


def tool_call_then_held() -> list[Step]:
    """A tool call (which the turn answers at once, as events), then a model call that holds its answer."""
    return [Stream(calculator_call_parts()), hello(pause_after=0)]


def model_called(app: Harness, times: int = 1) -> Callable[[], bool]:
    return lambda: len(app.runtime.requests) >= times


def next_turn_status(app: Harness, door: Door) -> int:
    """The status of the next turn on session "s", sent again while it is refused as busy (10 s at most)."""
    statuses: list[int] = []

    def answered() -> bool:
        statuses.append(door.outcome(door.post(app.client, "Again", "s")))
        return statuses[-1] != 409

    wait_until(answered)
    return statuses[-1]


@every_door
def test_a_client_leaving_before_the_first_event_frees_its_session_at_once(
    harness: HarnessFactory, sessions_bucket: str, door: Door
) -> None:
    # The model holds its whole answer: nothing of it can reach the client before it leaves.
    held = hello(pause_after=0)
    app = harness([held, hello()], sessions_bucket=sessions_bucket)
    door.leave(str(app.client.base_url), model_called(app), session_id="s")
    # The model is still holding: only a turn cancelled by the disconnect has let the session go.
    assert next_turn_status(app, door) == 200
    assert not held.resume.is_set()


@every_door
def test_a_client_leaving_during_the_turn_frees_its_session_at_once(
    harness: HarnessFactory, sessions_bucket: str, door: Door
) -> None:
    # The tool call and its result are produced (streamed, or kept for a whole answer); the next model call
    # holds.
    app = harness([*tool_call_then_held(), hello()], sessions_bucket=sessions_bucket)
    door.leave(str(app.client.base_url), model_called(app, 2), session_id="s")
    assert next_turn_status(app, door) == 200


OUTCOMES: dict[str, tuple[Callable[[], list[Step]], int | None, str, str]] = {
    "done": (lambda: [hello()], None, "chat turn finished", "OutputTokens"),
    "error-after-output": (
        lambda: [Stream(fixture_parts("sglang/e_error_midstream.body"))],
        None,
        "chat turn failed",
        "Errors",
    ),
    "failed-before-output": (lambda: [Throttle()], None, "chat turn failed", "Errors"),
    "client-gone-before-first-event": (
        lambda: [hello(pause_after=0)],
        1,
        "chat turn cancelled",
        "Cancelled",
    ),
    "client-gone-during-the-turn": (tool_call_then_held, 2, "chat turn cancelled", "Cancelled"),
}
"""Each way a turn ends: the model's script, after how many model calls the client leaves (None: it reads
the whole answer), the end line, and a metric of the metrics document."""


@every_door
@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_turn_logs_one_end_line_and_one_metrics_document(
    harness: HarnessFactory,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    door: Door,
    outcome: str,
) -> None:
    steps, leave_after_calls, end, metric = OUTCOMES[outcome]
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = harness(steps())
    if leave_after_calls is None:
        door.post(app.client, "Hi")
    else:
        door.leave(str(app.client.base_url), model_called(app, leave_after_calls))
    stdout: list[str] = []

    def ended() -> bool:
        stdout.append(capsys.readouterr().out)
        return any(line.get("message") in END_LINES for line in json_lines(logs.getvalue())) and any(
            "_aws" in line for line in json_lines("".join(stdout))
        )

    wait_until(ended)
    # Whatever else would be logged has been by now (the end line is the turn's last act but its cleanup).
    app.client.get("/health")
    stdout.append(capsys.readouterr().out)
    ends = [line["message"] for line in json_lines(logs.getvalue()) if line.get("message") in END_LINES]
    documents = [line for line in json_lines("".join(stdout)) if "_aws" in line]
    assert ends == [end]
    assert len(documents) == 1
    assert total(documents[0], metric) >= 1
