"""The chat page at an API Gateway stage, as deployed: `https://<api>.execute-api.<region>.amazonaws.com/v1/`,
which API Gateway serves without its final slash too. In headless Chromium against the agent API on the local
stack, run in this process behind a stand-in for the stage (tests/support/api_gateway.py): every request the
page makes must keep the stage, whichever address it was opened at.
"""

from collections.abc import Iterator

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from agent_api.app import create_app
from agent_api.settings import Settings
from local.tiny_model.script import TOOL_RESULT_REPLY
from tests.agent_api.harness import serve
from tests.e2e.browser import ask, finished, text_of, wait_until_ready
from tests.support.api_gateway import ApiGatewayStage

pytestmark = pytest.mark.e2e


@pytest.fixture
def staged_api(in_process_settings: Settings) -> Iterator[tuple[str, ApiGatewayStage]]:
    stage = ApiGatewayStage(create_app(in_process_settings))
    with serve(stage) as url:  # type: ignore[arg-type]
        yield url, stage


@pytest.mark.parametrize("address", ["/v1/", "/v1"])
def test_the_page_keeps_the_stage_in_every_request_from_either_address(
    staged_api: tuple[str, ApiGatewayStage], browser: Chrome, address: str
) -> None:
    url, stage = staged_api
    browser.get(f"{url}{address}")
    wait_until_ready(browser)

    reply = finished(browser, ask(browser, "What is the weather in Paris?"))

    assert (reply.get_attribute("data-state"), text_of(reply)) == ("done", "".join(TOOL_RESULT_REPLY))
    assert reply.find_element(By.CSS_SELECTOR, ".tool").get_attribute("data-tool-name") == "get_weather"
    assert stage.received == [address, "/v1/config.json", "/v1/warm", "/v1/chat"]
    # The address bar shows the page's one address, the one to bookmark.
    assert browser.current_url == f"{url}/v1/"
