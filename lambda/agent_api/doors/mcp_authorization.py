"""The MCP server's OAuth protected-resource metadata under Cognito (RFC 9728): how MCP clients sign in.

The MCP authorization specification has servers publish it and clients find it from the `resource_metadata`
of a 401's `WWW-Authenticate` header, or at well-known URIs derived from the server's URL (its "Protected
Resource Metadata Discovery Requirements"). Deployed, API Gateway answers an unauthenticated request with
its own 401 before the app runs; the stack adds the header to that gateway response, pointing here
(`stacks/agent_api/rest_api.py`). The well-known URI RFC 9728 derives for `https://<api>/v1/mcp` is at the
host's root, outside the API's stage; this path is its form relative to the app's root (which is the host's
root behind a custom domain mapped without a base path).

The document names the resource (the URL the client called, rebuilt from API Gateway's request context), the
user pool as its authorization server (its OpenID Connect issuer, whose `/.well-known/openid-configuration`
the client reads next), and the API's one scope.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_api import contract
from agent_api.session_owner import REQUEST_CONTEXT_HEADER
from agent_api.settings import Settings


def protected_resource_routes(settings: Settings) -> list[Route]:
    """Return the metadata's route under Cognito; none otherwise (no OAuth to discover)."""
    if settings.cognito is None:
        return []
    issuer = settings.cognito.issuer

    async def metadata(request: Request) -> Response:
        return JSONResponse(
            {
                "resource": resource_url(request),
                "authorization_servers": [issuer],
                "scopes_supported": [contract.COGNITO_API_SCOPE],
                "bearer_methods_supported": ["header"],
                "resource_name": f"{contract.SERVICE_NAME} MCP server",
            },
            headers={"Cache-Control": "max-age=3600"},
        )

    return [Route(contract.PROTECTED_RESOURCE_METADATA_PATH, metadata, methods=["GET"])]


def resource_url(request: Request) -> str:
    """Return the URL of `/mcp` as the client reaches it.

    Behind API Gateway, its request context names the domain and the path the client called (the stage
    included); run by itself, the request's own URL does.
    """
    values = request.headers.getlist(REQUEST_CONTEXT_HEADER)
    if len(values) == 1:
        try:
            context = json.loads(values[0])
        except ValueError:
            context = None
        if isinstance(context, dict):
            domain, path = context.get("domainName"), context.get("path")
            if isinstance(domain, str) and isinstance(path, str) and path.endswith(request.url.path):
                base = path.removesuffix(request.url.path)
                return f"https://{domain}{base}{contract.MCP_PATH}"
    return f"{str(request.base_url).rstrip('/')}{contract.MCP_PATH}"
