"""`GET /` (the chat page) and `GET /config.json`, served by the app; the page itself runs in a real browser
in tests/e2e/test_e2e_chat_page.py."""

from __future__ import annotations

from tests.agent_api.harness import HarnessFactory


def test_page_is_uncached_html_that_calls_the_chat_route(harness: HarnessFactory) -> None:
    response = harness([]).client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.startswith("<!doctype html>")
    assert 'const CHAT_PATH = "chat";' in response.text


def test_page_may_run_only_its_own_inline_code_and_reach_only_its_origin(harness: HarnessFactory) -> None:
    policy = harness([]).client.get("/").headers["content-security-policy"]

    directives = dict(part.split(" ", 1) for part in policy.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["script-src"].startswith("'sha256-")
    assert directives["style-src"].startswith("'sha256-")
    assert "unsafe-inline" not in policy


def test_page_loads_nothing_from_another_origin(harness: HarnessFactory) -> None:
    html = harness([]).client.get("/").text

    assert "http://" not in html
    assert "https://" not in html
    assert " src=" not in html


def test_config_names_no_auth_and_sessions_off_without_a_bucket(harness: HarnessFactory) -> None:
    response = harness([]).client.get("/config.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.json() == {"auth": "none", "sessions": False}


def test_config_says_sessions_are_on_with_a_bucket(harness: HarnessFactory) -> None:
    response = harness([], sessions_bucket="page-sessions").client.get("/config.json")

    assert response.json() == {"auth": "none", "sessions": True}


def test_page_answers_only_get(harness: HarnessFactory) -> None:
    response = harness([]).client.post("/", json={})

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
