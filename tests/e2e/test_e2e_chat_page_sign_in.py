"""The chat page of a Cognito deployment in headless Chromium: signing in with the authorization code grant
and PKCE against a local fake of managed login, then asking the local stack through stand-ins for API
Gateway's Cognito authorizer (tests/support/fake_cognito.py) and stage (`/v1`, tests/support/api_gateway.py);
and the notice of an IAM deployment.

The agent API runs in this process (uvicorn on a free port) on the local stack's emulator and S3, so that it
can be told the fake's origin: Cognito's are https origins without a port, which the app's settings rightly
insist on, while the fake serves plain http on a free port.
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from agent_api.app import create_app
from agent_api.contract import AUTH_COGNITO, AUTH_IAM
from agent_api.settings import Settings
from local.tiny_model.script import TOOL_RESULT_REPLY
from tests.agent_api.harness import serve
from tests.e2e.browser import PAGE_LOAD_TIMEOUT, ask, finished, sign_in, text_of, wait_until_ready
from tests.e2e.scripted_page import page_replies
from tests.support.api_gateway import ApiGatewayStage
from tests.support.fake_cognito import CLIENT_ID, CognitoAuthorizer, FakeCognito
from tests.support.scripted_server import ScriptedServer

pytestmark = pytest.mark.e2e

PROMPT = "What is the weather in Paris?"
STORED_TOKEN = "return sessionStorage.getItem('agent-chat.auth');"


@dataclass(frozen=True)
class SignInStack:
    """The agent API behind the authorizer and an API Gateway stage (``url``, the page at ``page_url``), and
    the fake managed login it signs in with."""

    url: str
    cognito: FakeCognito
    authorizer: CognitoAuthorizer

    @property
    def page_url(self) -> str:
        return f"{self.url}/v1/"


@pytest.fixture
def cognito_api(in_process_settings: Settings) -> Iterator[SignInStack]:
    with FakeCognito() as cognito:
        settings = replace(in_process_settings, auth=AUTH_COGNITO, cognito=cognito.settings)
        authorizer = CognitoAuthorizer(create_app(settings), cognito)
        with serve(ApiGatewayStage(authorizer)) as url:  # type: ignore[arg-type]
            stack = SignInStack(url, cognito, authorizer)
            # The page's one address, as the stack registers it (AgentApi.page_url): the stage and its slash.
            cognito.redirect_uris.add(stack.page_url)
            yield stack


def notice(browser: Chrome) -> str:
    return str(browser.find_element(By.ID, "notice").text)


def load_signed_out(browser: Chrome, stack: SignInStack) -> None:
    browser.get(stack.page_url)
    WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(lambda d: d.find_element(By.ID, "sign-in").is_displayed())


def test_the_page_signs_in_with_pkce_and_streams_a_tool_call_with_the_bearer_token(
    cognito_api: SignInStack, browser: Chrome
) -> None:
    load_signed_out(browser, cognito_api)
    assert notice(browser) == "Sign in to talk to the agent."
    assert not browser.find_element(By.ID, "send").is_enabled()

    sign_in(browser)
    reply = finished(browser, ask(browser, PROMPT))

    # The callback's code and state are gone from the address bar.
    assert browser.current_url == cognito_api.page_url
    [exchange] = cognito_api.cognito.token_requests
    assert exchange.keys() == {"grant_type", "client_id", "code", "redirect_uri", "code_verifier"}
    assert (exchange["grant_type"], exchange["client_id"], exchange["redirect_uri"]) == (
        "authorization_code",
        CLIENT_ID,
        cognito_api.page_url,
    )
    # The page's own POST /warm, once signed in, carried the token too.
    assert sorted(cognito_api.authorizer.admitted) == ["/chat", "/warm"]
    assert reply.get_attribute("data-state") == "done"
    [tool] = reply.find_elements(By.CSS_SELECTOR, ".tool")
    assert tool.get_attribute("data-tool-name") == "get_weather"
    assert text_of(reply) == "".join(TOOL_RESULT_REPLY)
    assert browser.find_element(By.ID, "sign-out").is_displayed()


def test_the_page_opened_without_its_final_slash_signs_in_at_its_one_address(
    cognito_api: SignInStack, browser: Chrome
) -> None:
    # API Gateway serves the stage's root at ".../v1" too; Cognito knows only ".../v1/" as a callback URL.
    browser.get(cognito_api.page_url.removesuffix("/"))
    WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(lambda d: d.find_element(By.ID, "sign-in").is_displayed())

    sign_in(browser)
    reply = finished(browser, ask(browser, PROMPT))

    [exchange] = cognito_api.cognito.token_requests
    assert exchange["redirect_uri"] == cognito_api.page_url
    assert browser.current_url == cognito_api.page_url
    assert sorted(cognito_api.authorizer.admitted) == ["/chat", "/warm"]
    assert reply.get_attribute("data-state") == "done"


def test_a_reload_keeps_the_sign_in_the_conversation_and_its_session(
    cognito_api: SignInStack, browser: Chrome
) -> None:
    load_signed_out(browser, cognito_api)
    sign_in(browser)
    finished(browser, ask(browser, PROMPT))
    session = browser.find_element(By.ID, "session").text

    browser.refresh()
    wait_until_ready(browser)

    assert browser.find_element(By.ID, "session").text == session
    assert session.startswith("session web-")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".msg")) == 2
    assert len(cognito_api.cognito.token_requests) == 1


def test_a_forged_callback_is_refused_and_no_token_is_kept(cognito_api: SignInStack, browser: Chrome) -> None:
    # A callback this page did not start (a link someone sent): its state matches no sign-in.
    browser.get(f"{cognito_api.page_url}?code=stolen-code&state=forged-state")
    WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(lambda d: notice(d).startswith("Sign-in failed"))

    assert "its state does not match" in notice(browser)
    assert cognito_api.cognito.token_requests == []
    assert browser.execute_script(STORED_TOKEN) is None
    assert browser.current_url == cognito_api.page_url
    assert not browser.find_element(By.ID, "send").is_enabled()
    assert browser.find_element(By.ID, "sign-in").is_displayed()


def test_a_code_whose_verifier_does_not_match_is_refused_and_no_token_is_kept(
    cognito_api: SignInStack, browser: Chrome
) -> None:
    cognito_api.cognito.mismatch_next_verifier()
    load_signed_out(browser, cognito_api)
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(lambda d: notice(d).startswith("Sign-in failed"))

    assert (
        notice(browser)
        == "Sign-in failed: the sign-in service refused the code (invalid_grant). Sign in again."
    )
    assert len(cognito_api.cognito.token_requests) == 1
    assert browser.execute_script(STORED_TOKEN) is None
    assert not browser.find_element(By.ID, "send").is_enabled()


def test_an_expired_token_leads_back_to_sign_in_and_the_prompt_survives(
    cognito_api: SignInStack, browser: Chrome
) -> None:
    load_signed_out(browser, cognito_api)
    sign_in(browser)
    cognito_api.cognito.expire_tokens()

    browser.find_element(By.ID, "prompt").send_keys(PROMPT)
    browser.find_element(By.ID, "send").click()
    # The authorizer answers 401; the page signs in again (the fake at once) and puts the prompt back.
    WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(lambda _: len(cognito_api.cognito.token_requests) == 2)
    wait_until_ready(browser)

    assert cognito_api.authorizer.refused == ["/chat"]
    assert browser.find_element(By.ID, "prompt").get_attribute("value") == PROMPT
    # The unanswered prompt left the transcript: it is the draft now.
    assert browser.find_elements(By.CSS_SELECTOR, ".msg") == []
    browser.find_element(By.ID, "send").click()
    reply = WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant")
    )[0]
    assert finished(browser, reply).get_attribute("data-state") == "done"
    # The page's own POST /warm carried the token too.
    assert sorted(cognito_api.authorizer.admitted) == ["/chat", "/warm", "/warm"]


def test_sign_out_clears_the_token_and_the_conversation(cognito_api: SignInStack, browser: Chrome) -> None:
    load_signed_out(browser, cognito_api)
    sign_in(browser)
    finished(browser, ask(browser, PROMPT))

    browser.find_element(By.ID, "sign-out").click()
    WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(lambda _: cognito_api.cognito.sign_outs == 1)
    load_signed_out(browser, cognito_api)

    assert browser.execute_script(STORED_TOKEN) is None
    assert browser.find_elements(By.CSS_SELECTOR, ".msg") == []
    assert not browser.find_element(By.ID, "send").is_enabled()
    assert notice(browser) == "Sign in to talk to the agent."


def test_an_iam_deployment_says_how_to_reach_the_agent_instead(browser: Chrome) -> None:
    with ScriptedServer(*page_replies(auth=AUTH_IAM)) as server:
        browser.get(f"{server.url}/")
        WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(lambda d: notice(d) != "")

        shown = notice(browser)
        assert shown.startswith(
            "This API takes only IAM-signed (SigV4) requests, which a browser cannot send."
        )
        assert 'make ask PROMPT="..." ENV=<environment>' in shown
        assert "agent_client.openai_auth" in shown
        assert "docs/agent-api.md" in shown
        assert not browser.find_element(By.ID, "send").is_enabled()
        assert not browser.find_element(By.ID, "sign-in").is_displayed()
        # Nothing but the page and its configuration was asked for.
        assert [request.path for request in server.received] == ["/", "/config.json"]
