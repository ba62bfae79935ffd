"""A stand-in for an API Gateway REST API stage in front of the app, as the Lambda Web Adapter passes it on.

A deployed stage's URL is `https://<api id>.execute-api.<region>.amazonaws.com/<stage>`, and the chat page
is its root resource `/`, which a browser may open as `/<stage>/` or as `/<stage>` (no final slash): API
Gateway routes both to `/`. The Lambda proxy event's `path` is the resource path without the stage
(`requestContext.path` keeps it: the API Gateway guide's "Input format of a Lambda function for proxy
integration"), and the Web Adapter forwards that `path` as the request's path (`fetch_response` in
awslabs/aws-lambda-web-adapter's src/lib.rs, with `AWS_LWA_REMOVE_BASE_PATH` unset as in the stack). So the
app sees `/` for both addresses, and `/chat` for `/<stage>/chat`.

A path outside the stage matches no resource: API Gateway answers `403 {"message": "Missing Authentication
Token"}` itself (AWS knowledge center, "api-gateway-403-custom-domain"), which a page that lost its stage
gets back.
"""

from __future__ import annotations

import json
from typing import Any, Final

MISSING_AUTHENTICATION_TOKEN: Final = json.dumps({"message": "Missing Authentication Token"}).encode()


class ApiGatewayStage:
    """ASGI middleware serving ``app`` under `/<stage>`; ``received`` records each request's full path."""

    def __init__(self, app: Any, stage: str = "v1") -> None:
        self.app = app
        self.prefix = f"/{stage}"
        self.received: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        self.received.append(path)
        if path != self.prefix and not path.startswith(f"{self.prefix}/"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": MISSING_AUTHENTICATION_TOKEN})
            return
        resource = path.removeprefix(self.prefix) or "/"
        await self.app({**scope, "path": resource, "raw_path": resource.encode()}, receive, send)
