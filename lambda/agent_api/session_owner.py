"""Who owns the sessions a request may use: the caller API Gateway authenticated, as its request context says.

Behind the Lambda Web Adapter the request context arrives as JSON in one `x-amzn-request-context` header.
Ownership rests on three facts, each enforced here or at synth (docs/agent-api.md, "Security"):

- The adapter replaces any value a client sent: it `insert`s the header (aws-lambda-web-adapter PR #286,
  first released in v0.7.2, layer version 18; earlier layers `append`ed it after the client's own, and the
  first value was the client's). `cdk.json` refuses older layers (`stacks/config/schema.py`), and a request
  that carries the header more than once is refused here all the same.
- In a deployed environment (`AGENT_AUTH` is `iam` or `cognito`) every request comes through the adapter, so
  one without the header cannot be placed: it has no owner, never the local one.
- The context names the caller: a Cognito user's `sub`, else the IAM principal's ARN. What that name is worth
  (an assumed role's session name is chosen by the caller) is the deployment's to settle.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.datastructures import Headers

from agent_api import contract

REQUEST_CONTEXT_HEADER = "x-amzn-request-context"
# The one owner of every session when the app runs by itself (`AGENT_AUTH` none: `make demo`, the tests).
LOCAL_OWNER = "local"


class SessionOwnerUnknownError(Exception):
    """The request names no caller that sessions could belong to (the message says why)."""


def request_context_values(headers: Headers) -> list[str]:
    """Return the request context header's values: none or one.

    Raises:
        SessionOwnerUnknownError: the header is there more than once (every request carrying it twice is
            refused, whether or not it names a session).

    """
    values = headers.getlist(REQUEST_CONTEXT_HEADER)
    if len(values) > 1:
        raise SessionOwnerUnknownError(
            f"the request carries {REQUEST_CONTEXT_HEADER} {len(values)} times, so its caller cannot be "
            "known (a Lambda Web Adapter layer older than version 18 forwards a client's own copy)"
        )
    return values


def owner_from_headers(headers: Headers, auth: str) -> str:
    """Return the caller who owns the sessions this request may use; `auth` is the settings' `AGENT_AUTH`.

    The caller is a Cognito user's `sub` (`authorizer.claims.sub` of a REST API's Cognito authorizer,
    `authorizer.jwt.claims.sub` of an HTTP API's JWT authorizer), else the IAM principal (`identity.userArn`,
    or `identity.caller` when there is no ARN; `authorizer.iam.userArn` in an HTTP API). Without the header
    and with `auth` none (run locally) every request is `LOCAL_OWNER`.

    Raises:
        SessionOwnerUnknownError: the header is there more than once, missing in a deployed environment, or
            names no caller (an API without authorization).

    """
    values = request_context_values(headers)
    if not values:
        if auth == contract.AUTH_NONE:
            return LOCAL_OWNER
        raise SessionOwnerUnknownError(
            f"the request came without API Gateway's request context ({REQUEST_CONTEXT_HEADER}), so its "
            "caller cannot be known"
        )
    try:
        context = json.loads(values[0])
    except ValueError:
        context = None
    if isinstance(context, dict):
        sub = _first_str(context, ("authorizer", "claims", "sub"), ("authorizer", "jwt", "claims", "sub"))
        if sub is not None:
            return f"cognito:{sub}"
        principal = _first_str(
            context, ("identity", "userArn"), ("identity", "caller"), ("authorizer", "iam", "userArn")
        )
        if principal is not None:
            return f"iam:{principal}"
    raise SessionOwnerUnknownError("sessions need an authenticated caller; the request context names none")


def _first_str(context: dict[str, Any], *paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value: Any = context
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def owner_digest(owner: str) -> str:
    """Return the name of an owner's space in the sessions bucket (a digest: no ARN or user id in a key)."""
    return hashlib.sha256(owner.encode()).hexdigest()
