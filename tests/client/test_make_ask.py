"""`make ask`: the prompt reaches the API intact, a local URL is unsigned, the client's status is named.

`-o setup` keeps make from (re)installing anything: the test runs the recipe, not the set-up.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agent_client.api import TOKEN_VARIABLE
from tests.client.test_client_cli import DONE, answer
from tests.support.scripted_server import Reply, ScriptedServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_ask(*variables: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-o", "setup", "ask", *variables],
        cwd=REPO_ROOT,
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def without_aws_credentials() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")} | {
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_local_url_is_sent_unsigned(api: ScriptedServer, host: str) -> None:
    api.reply = answer(("text", {"delta": "Hello"}), DONE)
    url = api.url.replace("127.0.0.1", host)
    result = make_ask('PROMPT=it\'s "quoted"', f"URL={url}", env=without_aws_credentials())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hello")
    assert "Authorization" not in api.received[0].headers
    assert json.loads(api.received[0].body) == {"prompt": 'it\'s "quoted"'}


def test_an_api_error_is_named_as_the_clients_status_1(api: ScriptedServer) -> None:
    api.reply = Reply(
        [json.dumps({"code": "model_throttled", "message": "retry later"}).encode()], status=429
    )
    result = make_ask("PROMPT=Hi", f"URL={api.url}")
    assert result.returncode != 0
    assert "model_throttled" in result.stderr
    assert "the client exited with status 1 (the API reported an error)" in result.stderr


def test_a_client_problem_is_named_as_the_clients_status_2() -> None:
    result = make_ask("PROMPT=Hi", "URL=http://127.0.0.1:9")
    assert result.returncode != 0
    assert "the client exited with status 2 (client-side problem)" in result.stderr


def test_an_access_token_in_the_environment_is_sent_as_a_bearer_token(api: ScriptedServer) -> None:
    # make passes the environment through to the client, which sends the token (--no-sign or not).
    api.reply = answer(("text", {"delta": "Hello"}), DONE)
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
    result = make_ask("PROMPT=Hi", f"URL={api.url}", env={**without_aws_credentials(), TOKEN_VARIABLE: token})
    assert result.returncode == 0, result.stderr
    assert api.received[0].headers["Authorization"] == f"Bearer {token}"
    assert token not in result.stdout + result.stderr
