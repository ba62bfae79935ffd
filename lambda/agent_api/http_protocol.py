"""uvicorn's HTTP/1.1 protocol (httptools), answering a request it cannot parse with the API's JSON error.

uvicorn answers a request its parser refuses (a malformed `Content-Length`, a broken request line or header)
with a plain-text 400 before the app sees it. `lambda/run.sh` runs uvicorn with this protocol
(`--http agent_api.http_protocol:JsonErrorHttpToolsProtocol`) so that answer is the documented
`{"code": "bad_request", "message"}` too.

httptools (llhttp, in C) rather than uvicorn's pure-Python h11: reading a request and writing the answer's
head cost 0.2-0.6 ms less of the time to first token (paired comparisons, docs/local.md#measurements).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from agent_api.response_headers import NOSNIFF

BAD_REQUEST_BODY = json.dumps(
    {
        "code": "bad_request",
        "message": "the HTTP request could not be parsed (malformed request line, header or Content-Length)",
    }
).encode()


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose parse-error answer is the API's JSON error body."""

    def send_400_response(self, msg: str) -> None:
        """Answer 400 with the JSON error and close the connection (the parser cannot read past it)."""
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BAD_REQUEST_BODY)).encode()),
            NOSNIFF,
            (b"connection", b"close"),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[400] + head + b"\r\n" + BAD_REQUEST_BODY)
        self.transport.close()
