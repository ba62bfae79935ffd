#!/bin/sh
# Lambda entrypoint (handler) behind the AWS Lambda Web Adapter: the adapter forwards each invocation to
# this server on 127.0.0.1:$AWS_LWA_PORT and streams the response back (AWS_LWA_INVOKE_MODE=response_stream).
# One worker: a Lambda instance handles one request at a time. The protocol is uvicorn's httptools one (its C
# parser: less time to first token than h11), subclassed to answer a request it cannot parse with the API's
# JSON error (lambda/agent_api/http_protocol.py).
set -eu
cd "$(dirname "$0")"
exec python3 -m uvicorn agent_api.app:app --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" --workers 1 \
  --http agent_api.http_protocol:JsonErrorHttpToolsProtocol --no-access-log --timeout-graceful-shutdown 5
