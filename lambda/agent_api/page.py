"""The chat page (`GET /`) and the configuration it reads when it starts (`GET /config.json`).

The page's sources live in `chat_page/`: `index.html` names, in order, the style sheet and scripts to inline
(`<!-- inline: chat.js -->`), and :func:`assemble_page` joins them into one HTML document once, when the app
is built. So the page is one response, at either of its two addresses (a stage's root with and without its
final slash: the page makes its requests relative to the root, see `chat_page/shared.js`), with nothing to
load from another origin or another path. Its Content-Security-Policy allows exactly the inlined scripts and
style (by their SHA-256, computed as they are joined) and requests to this origin only, plus the Cognito
managed-login origin where the page signs in there (it exchanges its authorization code at that origin's
token endpoint with `fetch`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_api.contract import PAGE_CONFIG_PATH, PAGE_PATH
from agent_api.settings import Settings

PAGE_DIR: Final = Path(__file__).with_name("chat_page")
# One directive per line of index.html, naming a file under PAGE_DIR.
_INLINE: Final = re.compile(r"^<!-- inline: (?P<name>[\w./-]+) -->$", flags=re.MULTILINE)
_ELEMENTS: Final = {".js": "script", ".css": "style"}
# What would end an inline element early, or (`<script` after a `<!--`) keep the HTML parser from seeing
# its end: HTML's script data states (HTML standard, 13.2.5.4 ff.). `<!--` alone is harmless.
_FORBIDDEN: Final = {
    "script": re.compile(r"</?script", re.IGNORECASE),
    "style": re.compile(r"</style", re.IGNORECASE),
}
# A bundled library's source map comment: the page serves no map, so a browser's developer tools would ask
# for one at a path that does not exist.
_SOURCE_MAP: Final = re.compile(r"\n//# sourceMappingURL=\S+\s*$")
# Rebuilt with every deployment: a browser revalidates (ETag) instead of keeping a page that no longer fits
# the API. No response of the page's may be read as another type than it says.
_NO_CACHE: Final = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


class PageAssemblyError(ValueError):
    """`chat_page/index.html` names a file that cannot be inlined."""


@dataclass(frozen=True)
class PageDocument:
    """The page as one HTML document, and the CSP sources of its inline elements."""

    html: bytes
    script_sources: tuple[str, ...]
    style_sources: tuple[str, ...]
    inlined: tuple[str, ...]
    """The files joined into it, relative to the page's directory, in order."""

    @property
    def etag(self) -> str:
        """The page's entity tag: a browser that sends it back gets `304` instead of the page."""
        return '"' + hashlib.sha256(self.html).hexdigest()[:32] + '"'


def _csp_source(body: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


def assemble_page(directory: Path = PAGE_DIR) -> PageDocument:
    """Join ``directory``'s `index.html` and the files it names into one document.

    Raise :class:`PageAssemblyError` for a file that is missing, outside ``directory``, of an unknown kind,
    or whose text would end its element early.
    """
    sources: dict[str, list[str]] = {"script": [], "style": []}
    inlined: list[str] = []

    def inline(match: re.Match[str]) -> str:
        name = match["name"]
        path = (directory / name).resolve()
        tag = _ELEMENTS.get(path.suffix)
        if tag is None or not path.is_relative_to(directory.resolve()) or not path.is_file():
            raise PageAssemblyError(f"index.html: cannot inline {name!r} (a .js or .css file in {directory})")
        body = _SOURCE_MAP.sub("\n", path.read_text(encoding="utf-8"))
        if _FORBIDDEN[tag].search(body):
            raise PageAssemblyError(f"{name} contains {_FORBIDDEN[tag].pattern!r}, which would end <{tag}>")
        body = "\n" + body.strip("\n") + "\n"
        sources[tag].append(_csp_source(body))
        inlined.append(name)
        return f"<{tag}>{body}</{tag}>"

    html = _INLINE.sub(inline, (directory / "index.html").read_text(encoding="utf-8"))
    return PageDocument(html.encode(), tuple(sources["script"]), tuple(sources["style"]), tuple(inlined))


def page_headers(page: PageDocument, sign_in_origin: str | None = None) -> dict[str, str]:
    """Return the page's response headers: its CSP (allowing ``sign_in_origin`` too), caching, sniffing."""
    policy = (
        "default-src 'none'",
        f"script-src {' '.join(page.script_sources)}",
        f"style-src {' '.join(page.style_sources)}",
        f"connect-src 'self'{f' {sign_in_origin}' if sign_in_origin else ''}",
        # The page's empty icon (`data:,`), which spares the browser a request for /favicon.ico.
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
    return {
        **_NO_CACHE,
        "Content-Security-Policy": "; ".join(policy),
        "Referrer-Policy": "no-referrer",
        "ETag": page.etag,
    }


def page_config(settings: Settings) -> dict[str, Any]:
    """Return what the page reads at start (docs/agent-api.md, "The chat page").

    How callers authenticate, whether sessions are on and, under Cognito, where and how the page signs in.
    """
    config: dict[str, Any] = {"auth": settings.auth, "sessions": settings.sessions_enabled}
    if settings.cognito is not None:
        config["cognito"] = {
            "domain": settings.cognito.domain,
            "client_id": settings.cognito.client_id,
            "scope": settings.cognito.scope,
        }
    return config


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether an `If-None-Match` header names ``etag`` (weak comparison, RFC 9110 13.1.2)."""
    candidates = {candidate.strip().removeprefix("W/") for candidate in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


class ChatPage:
    """Serves the page and its configuration (:func:`page_config`)."""

    def __init__(self, settings: Settings) -> None:
        self._page = assemble_page()
        self._headers = page_headers(self._page, settings.cognito.domain if settings.cognito else None)
        self._config = page_config(settings)

    async def page(self, request: Request) -> Response:
        """Answer with the chat page, or `304` to a browser that holds this very page."""
        if _matches(request.headers.get("if-none-match", ""), self._page.etag):
            return Response(status_code=304, headers=self._headers)
        return Response(self._page.html, media_type="text/html; charset=utf-8", headers=self._headers)

    async def config(self, request: Request) -> Response:
        """Answer with what the page needs to know about this deployment."""
        return JSONResponse(self._config, headers=_NO_CACHE)

    def routes(self) -> list[Route]:
        """Return the page's routes, for the app's route table."""
        return [
            Route(PAGE_PATH, self.page, methods=["GET"]),
            Route(PAGE_CONFIG_PATH, self.config, methods=["GET"]),
        ]
