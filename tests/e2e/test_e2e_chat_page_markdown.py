"""The chat page renders answers as Markdown, safely: in headless Chromium against a scripted agent API
(tests/e2e/scripted_page.py) that serves the page with the app's own Content-Security-Policy.

Nothing the model writes may run script or load anything. The renderer makes no element that could
(lambda/agent_api/chat_page/render.js), and the CSP stops what would get past it: both are tested, each on
its own, with another local server standing for the rest of the internet (it must receive no request).
"""

from collections.abc import Iterator

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.browser import ask, finished
from tests.e2e.scripted_page import USAGE, events, open_warmed_page, serve_page, text_answer
from tests.support.scripted_server import ScriptedServer

pytestmark = pytest.mark.e2e

MARKDOWN = """# Deploying

Two steps:

1. Build the **image**
2. Run `cdk deploy`

- fast
- cheap

| instance | $/hour |
|---|--:|
| ml.g5.xlarge | 1.41 |

```bash
make deploy ENV=dev
```

See [the guide](https://docs.aws.amazon.com/sagemaker/).
"""
CODE = "make deploy ENV=dev\n"


@pytest.fixture
def elsewhere() -> Iterator[ScriptedServer]:
    """A server on another origin: anything the page loads from outside would reach it."""
    with ScriptedServer() as server:
        yield server


def test_an_answer_streamed_in_pieces_renders_as_markdown(browser: Chrome) -> None:
    # Pieces of 7 characters cut through every construct: the page renders what it has, then the whole.
    pieces = [MARKDOWN[start : start + 7] for start in range(0, len(MARKDOWN), 7)]
    chat = events(
        *(("text", {"delta": piece}) for piece in pieces),
        ("done", {"stop_reason": "end_turn", "usage": USAGE}),
    )
    with serve_page(chat) as server:
        open_warmed_page(browser, server)
        answer = finished(browser, ask(browser, "How do I deploy?")).find_element(By.CSS_SELECTOR, ".text")

        def texts(selector: str) -> list[str]:
            return [node.text for node in answer.find_elements(By.CSS_SELECTOR, selector)]

        assert texts("h1") == ["Deploying"]
        assert texts("ol > li") == ["Build the image", "Run cdk deploy"]
        assert (texts("ol strong"), texts("ol code")) == (["image"], ["cdk deploy"])
        assert texts("ul > li") == ["fast", "cheap"]
        assert texts("table th") == ["instance", "$/hour"]
        assert texts("table td") == ["ml.g5.xlarge", "1.41"]
        [block] = answer.find_elements(By.CSS_SELECTOR, ".code")
        assert block.find_element(By.CSS_SELECTOR, ".code-bar span").text == "bash"
        assert block.find_element(By.CSS_SELECTOR, "pre").get_attribute("textContent") == CODE
        assert block.find_element(By.CSS_SELECTOR, "button.copy").text == "Copy"
        [link] = answer.find_elements(By.CSS_SELECTOR, "a")
        assert (link.text, link.get_attribute("href")) == (
            "the guide",
            "https://docs.aws.amazon.com/sagemaker/",
        )
        assert (link.get_attribute("target"), link.get_attribute("rel")) == ("_blank", "noopener noreferrer")


def test_the_copy_button_copies_its_code_block(browser: Chrome) -> None:
    with serve_page(text_answer(MARKDOWN)) as server:
        browser.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": server.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )
        open_warmed_page(browser, server)
        reply = finished(browser, ask(browser, "How do I deploy?"))
        copy = reply.find_element(By.CSS_SELECTOR, "button.copy")
        copy.click()
        WebDriverWait(browser, 5).until(lambda _: copy.text == "Copied")

        copied = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "navigator.clipboard.readText().then(done, (error) => done('failed: ' + error));"
        )
        assert copied == CODE


def hostile_answer(origin: str) -> str:
    """Markdown a hostile or careless model might write: each line tries to run script or load something."""
    return "\n\n".join(
        (
            "<img src=x onerror=\"window.pwned='img'\">",
            "<script>window.pwned='script'</script>",
            "[click me](javascript:window.pwned='link')",
            "[data link](data:text/html,<script>alert(1)</script>)",
            f"![tracking pixel]({origin}/pixel.png)",
            f'Inline <a href="{origin}/raw" onclick="window.pwned=\'raw\'">raw link</a> and '
            "<svg onload=\"window.pwned='svg'\"></svg>",
            f'<iframe src="{origin}/frame"></iframe>',
            f"<style>body {{ background: url({origin}/background.png) }}</style>",
            "<details open ontoggle=\"window.pwned='toggle'\">x</details>",
        )
    )


# Every element of an answer, each with the attributes it carries.
ELEMENTS = """
return [...arguments[0].querySelectorAll("*")].map(
  (node) => [node.localName, node.getAttributeNames().map((name) => name + "=" + node.getAttribute(name))]
);
"""


def test_a_hostile_answer_runs_nothing_and_loads_nothing(browser: Chrome, elsewhere: ScriptedServer) -> None:
    with serve_page(text_answer(hostile_answer(elsewhere.url))) as server:
        open_warmed_page(browser, server)
        reply = finished(browser, ask(browser, "Hello"))
        answer = reply.find_element(By.CSS_SELECTOR, ".text")
        shown = answer.text
        elements = browser.execute_script(ELEMENTS, answer)
        # The links whose target was dropped (javascript:, data:) do nothing when clicked.
        for link in answer.find_elements(By.CSS_SELECTOR, "a:not([href])"):
            link.click()

        assert reply.get_attribute("data-state") == "done"
        assert browser.execute_script("return window.pwned") is None
        tags = {tag for tag, _ in elements}
        assert tags.isdisjoint({"script", "img", "iframe", "svg", "style", "details", "object", "embed"}), (
            tags
        )
        attributes = [attribute for _, names in elements for attribute in names]
        assert not [attribute for attribute in attributes if attribute.startswith(("on", "style="))], (
            attributes
        )
        hrefs = [attribute.removeprefix("href=") for attribute in attributes if attribute.startswith("href=")]
        # Only the image is left, as a link the reader may choose to open in a tab of its own.
        assert hrefs == [f"{elsewhere.url}/pixel.png"]
        assert len(browser.window_handles) == 1
        # Raw HTML shows as the text the model wrote.
        assert "<script>window.pwned='script'</script>" in shown
        assert "<svg onload=\"window.pwned='svg'\"></svg>" in shown
        assert elsewhere.received == []


# What a renderer bug could let through, put into the page directly: the CSP must stop each, and report it.
SMUGGLE = """
const origin = arguments[0];
window.violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.violations.push(event.effectiveDirective);
});
const image = document.createElement("img");
image.src = origin + "/smuggled.png";
const script = document.createElement("script");
script.textContent = "window.pwned = 'inline script'";
const frame = document.createElement("iframe");
frame.src = origin + "/frame";
document.getElementById("transcript").append(image, script, frame);
fetch(origin + "/fetch").catch(() => window.violations.push("fetch refused"));
"""


def test_the_csp_stops_what_would_get_past_the_renderer(browser: Chrome, elsewhere: ScriptedServer) -> None:
    with serve_page(text_answer("Hi")) as server:
        open_warmed_page(browser, server)
        browser.execute_script(SMUGGLE, elsewhere.url)
        WebDriverWait(browser, 10).until(lambda d: len(d.execute_script("return window.violations")) >= 5)

        assert sorted(browser.execute_script("return window.violations")) == [
            "connect-src",
            "fetch refused",
            "frame-src",
            "img-src",
            "script-src-elem",
        ]
        assert browser.execute_script("return window.pwned") is None
        assert elsewhere.received == []
