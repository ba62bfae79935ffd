"""uvicorn's HTTP/1.1 protocol (h11), answering a request it cannot parse with the API's JSON error.

uvicorn answers a request h11 refuses (a malformed `Content-Length`, a broken request line or header) with a
plain-text 400 before the app sees it. `lambda/run.sh` runs uvicorn with this protocol
(`--http agent_api.http_protocol:JsonErrorH11Protocol`) so that answer is the documented
`{"code": "bad_request", "message"}` too.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

BAD_REQUEST_BODY = json.dumps(
    {
        "code": "bad_request",
        "message": "the HTTP request could not be parsed (malformed request line, header or Content-Length)",
    }
).encode()


class JsonErrorH11Protocol(H11Protocol):
    """`H11Protocol` whose parse-error answer is the API's JSON error body."""

    def send_400_response(self, msg: str) -> None:
        """Answer 400 with the JSON error and close the connection (h11 cannot read past the bad request)."""
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BAD_REQUEST_BODY)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=BAD_REQUEST_BODY),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()
