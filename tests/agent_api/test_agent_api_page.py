"""`GET /` (the chat page, agent_api/page.py) and `GET /config.json`, served by the app; the page itself runs
in a real browser in tests/e2e/test_e2e_chat_page*.py."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from agent_api import contract
from agent_api.page import PAGE_DIR, PageAssemblyError, assemble_page
from agent_api.settings import CognitoSettings
from tests.agent_api.harness import HarnessFactory

SIGN_IN = CognitoSettings(
    domain="https://sagemakeragent-prod-123456789012.auth.us-east-1.amazoncognito.com",
    client_id="4example5clientid6abcdefghi",
    scope="openid email agent-api/invoke",
    issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example12",
)


def csp(harness: HarnessFactory, **settings: object) -> dict[str, str]:
    """The page's Content-Security-Policy, directive by directive."""
    policy = harness([], **settings).client.get("/").headers["content-security-policy"]
    return dict(part.split(" ", 1) for part in policy.split("; "))


class _Elements(HTMLParser):
    """Each element's tag and attributes, and the text of each inline `<script>` and `<style>`."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.inline: dict[str, list[str]] = {"script": [], "style": []}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in self.inline:
            self._open = tag
            self.inline[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.inline[self._open][-1] += data


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_page_is_revalidated_html_that_calls_the_chat_route(harness: HarnessFactory) -> None:
    response = harness([]).client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"] == assemble_page().etag
    assert response.text.startswith("<!doctype html>")
    assert 'const CHAT_PATH = "chat";' in response.text


def test_a_browser_holding_this_page_gets_304_without_a_body(harness: HarnessFactory) -> None:
    client = harness([]).client
    etag = client.get("/").headers["etag"]

    for header in (etag, f"W/{etag}", f'"older", {etag}', "*"):
        response = client.get("/", headers={"If-None-Match": header})
        assert (response.status_code, response.content) == (304, b""), header
        assert response.headers["etag"] == etag
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/", headers={"If-None-Match": '"older"'}).status_code == 200


def test_page_may_run_exactly_its_own_inline_scripts_and_style(harness: HarnessFactory) -> None:
    html = harness([]).client.get("/").text
    directives = csp(harness)
    inline = parse(html).inline

    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    # One hash per inline element, computed from what the browser reads between its tags.
    assert directives["script-src"].split() == [sha256_source(body) for body in inline["script"]]
    assert directives["style-src"].split() == [sha256_source(body) for body in inline["style"]]
    assert len(inline["script"]) == 6
    assert "unsafe" not in "; ".join(directives.values())


def test_under_cognito_the_page_may_reach_exactly_the_sign_in_origin_too(harness: HarnessFactory) -> None:
    directives = csp(harness, auth=contract.AUTH_COGNITO, cognito=SIGN_IN)

    assert directives["connect-src"] == f"'self' {SIGN_IN.domain}"
    # Sign-in leaves the page by navigation (authorize, logout), never by a form or a frame.
    assert (directives["form-action"], directives["frame-ancestors"]) == ("'none'", "'none'")


def test_under_iam_the_page_reaches_only_its_origin(harness: HarnessFactory) -> None:
    assert csp(harness, auth=contract.AUTH_IAM)["connect-src"] == "'self'"


def test_page_loads_nothing_from_anywhere(harness: HarnessFactory) -> None:
    elements = parse(harness([]).client.get("/").text).elements

    assert not [tag for tag, attrs in elements if "src" in attrs]
    assert [(tag, attrs["href"]) for tag, attrs in elements if "href" in attrs] == [("link", "data:,")]
    assert {"base", "iframe", "object", "embed", "img"}.isdisjoint(tag for tag, _ in elements)


def test_every_script_and_style_sheet_of_the_page_is_inlined() -> None:
    sources = [path for path in PAGE_DIR.rglob("*") if path.suffix in {".js", ".css"}]
    files = {path.relative_to(PAGE_DIR).as_posix() for path in sources}

    assert set(assemble_page().inlined) == files
    assert b"sourceMappingURL" not in assemble_page().html


def test_config_names_no_auth_and_sessions_off_without_a_bucket(harness: HarnessFactory) -> None:
    response = harness([]).client.get("/config.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.json() == {"auth": "none", "sessions": False}


def test_config_is_never_sniffed_as_another_type(harness: HarnessFactory) -> None:
    response = harness([]).client.get("/config.json")

    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"


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


# --- Assembling the page from its sources ----------------------------------------------------------------
def page_sources(directory: Path, index: str, **files: str) -> Path:
    (directory / "index.html").write_text(index)
    for name, text in files.items():
        (directory / name.replace("__", ".")).write_text(text)
    return directory


def test_assembly_inlines_the_named_files_in_order_with_their_hashes(tmp_path: Path) -> None:
    sources = page_sources(
        tmp_path,
        "<head>\n<!-- inline: a.css -->\n</head>\n<!-- inline: b.js -->\n<!-- inline: a.js -->\n",
        a__css="p { color: red; }",
        a__js='"use strict";\nconst a = 1;\n//# sourceMappingURL=a.js.map\n',
        b__js="const b = '<!-- fine -->';",
    )

    page = assemble_page(sources)

    assert page.html.decode() == (
        "<head>\n<style>\np { color: red; }\n</style>\n</head>\n"
        "<script>\nconst b = '<!-- fine -->';\n</script>\n"
        '<script>\n"use strict";\nconst a = 1;\n</script>\n'
    )
    assert page.inlined == ("a.css", "b.js", "a.js")
    assert page.script_sources == (
        sha256_source("\nconst b = '<!-- fine -->';\n"),
        sha256_source('\n"use strict";\nconst a = 1;\n'),
    )
    assert page.style_sources == (sha256_source("\np { color: red; }\n"),)


@pytest.mark.parametrize(
    ("directive", "files", "message"),
    [
        ("missing.js", {}, "cannot inline 'missing.js'"),
        ("../outside.js", {}, "cannot inline '../outside.js'"),
        ("a.txt", {"a__txt": "text"}, "cannot inline 'a.txt'"),
        ("a.js", {"a__js": "const end = '</SCRIPT>';"}, "a.js contains"),
        ("a.js", {"a__js": "const start = '<script>';"}, "a.js contains"),
        ("a.css", {"a__css": "/* </style> */"}, "a.css contains"),
    ],
)
def test_assembly_refuses_what_cannot_be_inlined_safely(
    tmp_path: Path, directive: str, files: dict[str, str], message: str
) -> None:
    (tmp_path / "outside.js").write_text("const outside = 1;")
    (tmp_path / "page").mkdir()
    sources = page_sources(tmp_path / "page", f"<!-- inline: {directive} -->\n", **files)

    with pytest.raises(PageAssemblyError, match=message):
        assemble_page(sources)
