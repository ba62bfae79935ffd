"""`GET /` (the chat page) and `GET /config.json`, served by the app; the page itself runs in a real browser
in tests/e2e/test_e2e_chat_page.py."""

from __future__ import annotations

from agent_api import contract
from agent_api.settings import CognitoSettings
from tests.agent_api.harness import HarnessFactory

SIGN_IN = CognitoSettings(
    domain="https://sagemakeragent-prod-123456789012.auth.us-east-1.amazoncognito.com",
    client_id="4example5clientid6abcdefghi",
    scope="openid email agent-api/invoke",
)


def csp(harness: HarnessFactory, **settings: object) -> dict[str, str]:
    """The page's Content-Security-Policy, directive by directive."""
    policy = harness([], **settings).client.get("/").headers["content-security-policy"]
    return dict(part.split(" ", 1) for part in policy.split("; "))


def test_page_is_uncached_html_that_calls_the_chat_route(harness: HarnessFactory) -> None:
    response = harness([]).client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.startswith("<!doctype html>")
    assert 'const CHAT_PATH = "chat";' in response.text


def test_page_may_run_only_its_own_inline_code_and_reach_only_its_origin(harness: HarnessFactory) -> None:
    directives = csp(harness)

    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["script-src"].startswith("'sha256-")
    assert directives["style-src"].startswith("'sha256-")
    assert "unsafe-inline" not in "; ".join(directives.values())


def test_under_cognito_the_page_may_reach_exactly_the_sign_in_origin_too(harness: HarnessFactory) -> None:
    directives = csp(harness, auth=contract.AUTH_COGNITO, cognito=SIGN_IN)

    assert directives["connect-src"] == f"'self' {SIGN_IN.domain}"
    # Sign-in leaves the page by navigation (authorize, logout), never by a form or a frame.
    assert (directives["form-action"], directives["frame-ancestors"]) == ("'none'", "'none'")


def test_under_iam_the_page_reaches_only_its_origin(harness: HarnessFactory) -> None:
    assert csp(harness, auth=contract.AUTH_IAM)["connect-src"] == "'self'"


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


def test_config_names_iam_for_an_iam_deployment(harness: HarnessFactory) -> None:
    response = harness([], auth=contract.AUTH_IAM, sessions_bucket="page-sessions").client.get("/config.json")

    assert response.json() == {"auth": "iam", "sessions": True}


def test_config_tells_a_cognito_deployments_page_how_to_sign_in(harness: HarnessFactory) -> None:
    response = harness([], auth=contract.AUTH_COGNITO, cognito=SIGN_IN).client.get("/config.json")

    assert response.json() == {
        "auth": "cognito",
        "sessions": False,
        "cognito": {"domain": SIGN_IN.domain, "client_id": SIGN_IN.client_id, "scope": SIGN_IN.scope},
    }


def test_page_answers_only_get(harness: HarnessFactory) -> None:
    response = harness([]).client.post("/", json={})

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
