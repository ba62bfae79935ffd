"""``python -m local.emulator``: flags, faults from flags, and a clean stop on SIGTERM."""

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support.bedrock_runtime import bedrock_client
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream, sagemaker_client, sagemaker_control_client
from tests.support.scripted_server import ScriptedServer

REPO_ROOT = Path(__file__).resolve().parents[2]
USER = [{"role": "user", "content": [{"text": "Hello"}]}]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.emulator", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


@contextmanager
def _serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``python -m local.emulator --port 0 ARGS``; yield the process and the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local.emulator", "--port", "0", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert match is not None
        yield process, match[1]
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.fixture
def emulator_process(container: ScriptedServer) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with _serving("--backend", container.url, "--throttle", "1") as running:
        yield running


def test_cli_serves_the_named_endpoint_with_the_faults_given_as_flags(emulator_process) -> None:
    _, url = emulator_process
    client = sagemaker_client(url, retries={"total_max_attempts": 1})

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName="local-endpoint", Body=b"{}")
    response = client.invoke_endpoint(EndpointName="local-endpoint", Body=b"{}")

    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert response["Body"].read() == b'{"ok": true}'


def test_cli_serves_a_scaled_to_zero_component_that_wakes_after_its_warm_up(
    container: ScriptedServer,
) -> None:
    component_flags = ("--inference-component", "ic", "--copies", "0", "--warm-up-seconds", "0")
    with _serving("--backend", container.url, *component_flags) as (_, url):
        client = sagemaker_client(url)
        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint(EndpointName="local-endpoint", InferenceComponentName="ic", Body=b"{}")
        sagemaker_control_client(url).update_inference_component_runtime_config(
            InferenceComponentName="ic", DesiredRuntimeConfig={"CopyCount": 1}
        )
        answer = client.invoke_endpoint(
            EndpointName="local-endpoint", InferenceComponentName="ic", Body=b"{}"
        )["Body"].read()

    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert answer == b'{"ok": true}'


def test_cli_serves_an_extra_endpoint_in_service_beside_a_scaled_to_zero_one(
    container: ScriptedServer,
) -> None:
    flags = ("--inference-component", "ic", "--copies", "0", "--extra-endpoint", "spare:spare-ic")
    with _serving("--backend", container.url, *flags) as (_, url):
        client = sagemaker_client(url)
        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint(EndpointName="local-endpoint", InferenceComponentName="ic", Body=b"{}")
        answer = client.invoke_endpoint(EndpointName="spare", InferenceComponentName="spare-ic", Body=b"{}")[
            "Body"
        ].read()

    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert answer == b'{"ok": true}'


def test_cli_answers_converse_for_the_bedrock_models_given_and_refuses_others() -> None:
    model_id = "us.anthropic.claude-sonnet-4-20250514-v1:0"
    with (
        ScriptedServer(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as openai_server,
        _serving("--backend", openai_server.url, "--bedrock-model", model_id) as (process, url),
    ):
        client = bedrock_client(url)
        answer = client.converse(modelId=model_id, messages=USER)
        with pytest.raises(client.exceptions.ValidationException):
            client.converse(modelId="amazon.nova-pro-v1:0", messages=USER)
        process.send_signal(signal.SIGTERM)
        assert process.stdout is not None
        output = process.stdout.read()  # the lines after the first, which _serving read

    assert answer["output"]["message"]["content"] == [{"text": "Hello! I am a tiny test model."}]
    assert openai_server.received[0].path == "/v1/chat/completions"
    assert f"AWS_ENDPOINT_URL_BEDROCK_RUNTIME={url}" in output


def test_cli_stops_cleanly_on_sigterm(emulator_process) -> None:
    process, _ = emulator_process

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "localhost:8080"], "backend_url must be an http(s) URL"),
        (["--backend", "http://127.0.0.1:1", "--throttle", "-1"], "throttle_requests must be >= 0"),
        (
            ["--backend", "http://127.0.0.1:1", "--throttle-after", "-1"],
            "throttle_after_requests must be >= 0",
        ),
        (["--backend", "http://127.0.0.1:1", "--split-every", "0"], "split_every must be >= 1"),
        (["--backend", "http://127.0.0.1:1", "--copies", "0"], "--copies and --warm-up-seconds need"),
        (
            ["--backend", "http://127.0.0.1:1", "--inference-component", "ic", "--copies", "-1"],
            "copies must be within 0..",
        ),
        (
            ["--backend", "http://127.0.0.1:1", "--inference-component", "ic", "--warm-up-seconds", "-1"],
            "warm_up_seconds must be >= 0",
        ),
        (["--backend", "http://127.0.0.1:1", "--extra-endpoint", "spare:"], "NAME or NAME:COMPONENT"),
        (["--backend", "http://127.0.0.1:1", "--extra-endpoint", "local-endpoint"], "named twice"),
        (
            ["--backend", "http://127.0.0.1:1", "--inference-component", "ic", "--extra-endpoint", "x:ic"],
            "must be unique across endpoints",
        ),
    ],
)
def test_cli_rejects_bad_flags_with_a_message_naming_them(args: list[str], message: str) -> None:
    result = _run(*args)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
