"""The chat page (`GET /`) and the configuration it reads when it starts (`GET /config.json`).

The page is one self-contained HTML file (`chat_page.html`, inline script and style, nothing from another
origin), read once when the app is built. Its Content-Security-Policy allows exactly that inline script and
style (by their SHA-256) and requests to this origin only, plus the Cognito managed-login origin where the
page signs in there (it exchanges its authorization code at that origin's token endpoint with `fetch`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_api.contract import PAGE_CONFIG_PATH, PAGE_PATH
from agent_api.settings import Settings

PAGE_FILE: Final = Path(__file__).with_name("chat_page.html")
# Rebuilt with every deployment: a browser revalidates instead of keeping a page that no longer fits the API.
_NO_CACHE: Final = {"Cache-Control": "no-cache"}


def _inline_hashes(html: str, tag: str) -> str:
    """Return the CSP sources allowing each inline `<tag>` element of the page by its SHA-256."""
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    if not bodies:
        raise ValueError(f"{PAGE_FILE.name} has no inline <{tag}>")
    digests = (base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() for body in bodies)
    return " ".join(f"'sha256-{digest}'" for digest in digests)


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


class ChatPage:
    """Serves the page and its configuration (:func:`page_config`)."""

    def __init__(self, settings: Settings) -> None:
        html = PAGE_FILE.read_text(encoding="utf-8")
        self._html = html.encode()
        sign_in = f" {settings.cognito.domain}" if settings.cognito is not None else ""
        policy = (
            "default-src 'none'",
            f"script-src {_inline_hashes(html, 'script')}",
            f"style-src {_inline_hashes(html, 'style')}",
            f"connect-src 'self'{sign_in}",
            # The page's empty icon (`data:,`), which spares the browser a request for /favicon.ico.
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
        self._headers = {
            **_NO_CACHE,
            "Content-Security-Policy": "; ".join(policy),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        self._config = page_config(settings)

    async def page(self, request: Request) -> Response:
        """Answer with the chat page."""
        return Response(self._html, media_type="text/html; charset=utf-8", headers=self._headers)

    async def config(self, request: Request) -> Response:
        """Answer with what the page needs to know about this deployment."""
        return JSONResponse(self._config, headers=_NO_CACHE)

    def routes(self) -> list[Route]:
        """Return the page's routes, for the app's route table."""
        return [
            Route(PAGE_PATH, self.page, methods=["GET"]),
            Route(PAGE_CONFIG_PATH, self.config, methods=["GET"]),
        ]
