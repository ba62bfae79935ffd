"""The agent API's routes as (path, HTTP method): what API Gateway routes to the function, and what the app
serves. One list for both: the infra tests check the template against it, the agent API's tests the app."""

from __future__ import annotations

from agent_api import contract

# Those authorized the environment's way, the chat page's two, which need no authorization, and under Cognito
# the MCP server's OAuth metadata, which needs none either.
ROUTES = [
    (contract.CHAT_PATH, "POST"),
    (contract.OPENAI_CHAT_COMPLETIONS_PATH, "POST"),
    (contract.OPENAI_RESPONSES_PATH, "POST"),
    (f"{contract.OPENAI_RESPONSES_PATH}/{{response_id}}", "GET"),
    (f"{contract.OPENAI_RESPONSES_PATH}/{{response_id}}", "DELETE"),
    (contract.OPENAI_MODELS_PATH, "GET"),
    (f"{contract.OPENAI_MODELS_PATH}/{{model_id}}", "GET"),
    (contract.MCP_PATH, "POST"),
    (contract.MCP_PATH, "GET"),
    (contract.MCP_PATH, "DELETE"),
    (contract.STATUS_PATH, "GET"),
    (contract.WARM_PATH, "POST"),
]
PAGE_ROUTES = [(contract.PAGE_PATH.rstrip("/"), "GET"), (contract.PAGE_CONFIG_PATH, "GET")]
COGNITO_ROUTES = [(contract.PROTECTED_RESOURCE_METADATA_PATH, "GET")]
