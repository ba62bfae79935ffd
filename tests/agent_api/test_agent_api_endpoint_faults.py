"""A stalled, broken or unreachable endpoint: 504/502 with an endpoint error code, logged without a traceback
(issue 14 item 5), through the app under uvicorn, the provider and the emulator."""

from __future__ import annotations

import logging

import pytest
from botocore.config import Config

from agent_api import agent_factory
from local.emulator import Faults
from tests.agent_api.harness import HarnessFactory
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream

READ_TIMEOUT_SECONDS = 0.5


@pytest.fixture
def short_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    config = agent_factory.MODEL_CLIENT_CONFIG.merge(Config(read_timeout=READ_TIMEOUT_SECONDS))
    monkeypatch.setattr(agent_factory, "MODEL_CLIENT_CONFIG", config)


def _failure_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == "chat turn failed"]


@pytest.mark.usefixtures("short_read_timeout")
def test_endpoint_silent_past_the_read_timeout_is_a_504(
    harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    app.runtime.emulator.set_faults(Faults(first_byte_delay=READ_TIMEOUT_SECONDS * 4))
    response = app.post({"prompt": "Hi"})
    assert response.status_code == 504
    assert response.json()["code"] == "endpoint_timeout"
    [record] = _failure_logs(caplog)
    assert record.exc_info is None


@pytest.mark.usefixtures("short_read_timeout")
def test_endpoint_stalling_mid_stream_is_an_endpoint_timeout_event(harness: HarnessFactory) -> None:
    parts = fixture_parts("vllm/chat_stream_usage.txt")
    app = harness([Stream(parts, pause_after=3)])
    events = app.chat({"prompt": "Hi"})
    assert [event.event for event in events] == ["text", "text", "error"]
    assert events[-1].json()["code"] == "endpoint_timeout"


def test_unreachable_endpoint_is_a_502(harness: HarnessFactory, caplog: pytest.LogCaptureFixture) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    app.runtime.emulator.stop()
    response = app.post({"prompt": "Hi"})
    assert response.status_code == 502
    assert response.json()["code"] == "endpoint_unreachable"
    [record] = _failure_logs(caplog)
    assert record.exc_info is None
