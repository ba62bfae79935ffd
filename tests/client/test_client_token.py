"""A Cognito access token (`--token`, `$COGNITO_ACCESS_TOKEN`) is sent as a bearer token instead of SigV4."""

from __future__ import annotations

import json

import pytest

from agent_client.api import TOKEN_VARIABLE
from agent_client.cli import EXIT_API_ERROR, EXIT_CLIENT_ERROR, EXIT_OK
from tests.client.test_client_cli import DONE, answer, run
from tests.support.scripted_server import Reply, ScriptedServer

# The shape of a Cognito access token: three base64url parts of a JWT.
TOKEN = "eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQ-_"
UNAUTHORIZED = Reply([json.dumps({"message": "Unauthorized"}).encode()], status=401)


def test_a_token_flag_is_sent_as_a_bearer_token_and_nothing_is_signed(api: ScriptedServer) -> None:
    api.reply = answer(("text", {"delta": "Hi"}), DONE)
    code, out, _ = run("Hi", "--url", api.url, "--token", TOKEN)

    assert (code, out) == (EXIT_OK, "Hi\n")
    headers = api.received[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert not {"X-Amz-Date", "X-Amz-Security-Token"} & headers.keys()


def test_the_token_variable_is_used_when_no_flag_is_given(
    api: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    api.reply = answer(DONE)
    run("Hi", "--url", api.url)

    assert api.received[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_the_flag_wins_over_the_variable(api: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "from.the.environment")
    api.reply = answer(DONE)
    run("Hi", "--url", api.url, "--token", TOKEN)

    assert api.received[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_empty_variable_means_no_token_so_the_request_is_signed(
    api: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "")
    api.reply = answer(DONE)
    run("Hi", "--url", api.url, "--region", "us-east-1")

    assert api.received[0].headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")


@pytest.mark.parametrize("bad", ["two words", "line\r\nX-Injected: 1", "tok\u00e9n"])
def test_a_token_that_is_no_bearer_token_is_refused_without_being_echoed(
    api: ScriptedServer, bad: str
) -> None:
    code, out, err = run("Hi", "--url", api.url, "--token", bad)

    assert code == EXIT_CLIENT_ERROR
    assert "the access token is not a bearer token" in err
    assert bad not in out + err
    assert api.received == []


def test_a_refused_token_says_it_may_have_expired_and_is_never_printed(api: ScriptedServer) -> None:
    api.reply = UNAUTHORIZED
    code, out, err = run("Hi", "--url", api.url, "--token", TOKEN)

    assert code == EXIT_API_ERROR
    assert "HTTP 401 http_error: Unauthorized" in err
    assert "the access token was refused; it may have expired" in err
    assert TOKEN not in out + err


def test_a_401_without_a_token_says_how_to_send_one(api: ScriptedServer) -> None:
    api.reply = UNAUTHORIZED
    code, _, err = run("Hi", "--url", api.url, "--no-sign")

    assert code == EXIT_API_ERROR
    assert (
        f"this API wants a Cognito access token (api.auth: cognito): pass --token or set {TOKEN_VARIABLE}"
        in err
    )
