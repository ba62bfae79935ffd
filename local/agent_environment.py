"""The agent API's environment on the local stack, and the names of what the local stack serves.

`agent_environment`: its `AGENT_*` settings, the local AWS endpoints, and dummy credentials.
"""

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from local.fallback import LocalFallback
from stacks.agent_api.lambda_contract import contract
from stacks.inference.serving_contract import serving

ENDPOINT_NAME: Final = "local-endpoint"
COMPONENT_NAME: Final = "local-component"
"""The inference component the endpoint hosts in the scaled-to-zero mode (``cold_start_seconds``)."""
SESSIONS_BUCKET: Final = "local-agent-sessions"
REGION: Final = "us-east-1"
DUMMY_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# The agent API's default tools plus its opt-in demo `get_weather`, the tool the tiny model calls.
LOCAL_TOOLS: Final = "current_time,calculator,get_weather"


def agent_environment(
    emulator_url: str,
    s3_url: str,
    tools: str | None,
    inference_component: str | None = None,
    profile: str = serving.DEFAULT_PROFILE,
    mcp_servers: Sequence[Mapping[str, Any]] = (),
    capture_content: bool = False,
    fallback: LocalFallback | None = None,
) -> dict[str, str]:
    """Return the agent API's environment: `AGENT_*` settings, local endpoints and dummy credentials.

    The agent reads tool calls left in an answer's text in the syntax of the model ``profile`` vLLM runs.

    With ``inference_component``, the agent API invokes (and wakes) that component, its `sagemaker` client
    pointed at the emulator too. With ``fallback``, it answers from that fallback while the model wakes.

    The caller's own ``AGENT_*``, ``AWS_*`` and ``POWERTOOLS_*`` variables are dropped, so neither a real
    AWS profile nor a stray setting can leak into the local stack. Its ``OTEL_*`` variables pass through:
    when they name an OTLP endpoint, the turns are traced there (``trace_settings``).
    """
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith((contract.VARIABLE_PREFIX, "AWS_", "POWERTOOLS_")) and key != "PYTHONPATH"
    }
    environment.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}",
            contract.AGENT_ENDPOINT_NAME.variable: ENDPOINT_NAME,
            contract.AGENT_REGION.variable: REGION,
            contract.AGENT_SESSIONS_BUCKET.variable: SESSIONS_BUCKET,
            contract.AGENT_TEXT_TOOL_CALLS.variable: serving.text_tool_call_syntax("vllm", profile)
            or contract.TEXT_TOOL_CALLS_OFF,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": emulator_url,
            "AWS_ENDPOINT_URL_S3": s3_url,
            # moto's one server answers every AWS service: the MCP servers' secrets are there.
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": s3_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            contract.POWERTOOLS_SERVICE_NAME.variable: "agent-api-local",
            contract.POWERTOOLS_METRICS_NAMESPACE.variable: "LocalAgent",
            **DUMMY_CREDENTIALS,
        }
    )
    if tools is not None:
        environment[contract.AGENT_TOOLS.variable] = tools
    if mcp_servers:
        environment[contract.AGENT_MCP_SERVERS.variable] = json.dumps(list(mcp_servers))
    environment.update(trace_settings(environment, capture_content))
    if inference_component is not None:
        environment[contract.AGENT_INFERENCE_COMPONENT_NAME.variable] = inference_component
        environment["AWS_ENDPOINT_URL_SAGEMAKER"] = emulator_url
    if fallback is not None:
        environment.update(fallback.environment(emulator_url, profile))
    return environment


def trace_settings(environment: Mapping[str, str], capture_content: bool) -> dict[str, str]:
    """Return the trace settings: `otlp` if ``environment`` names an OTLP endpoint, else none (traces off).

    The endpoint is named OpenTelemetry's way: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the base URL) or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (the full URL of traces).
    """
    endpoints = (contract.OTEL_ENDPOINT_VARIABLE, contract.OTEL_TRACES_ENDPOINT_VARIABLE)
    if not any(environment.get(variable) for variable in endpoints):
        return {}
    return {
        contract.AGENT_TRACES.variable: contract.TRACES_OTLP,
        contract.AGENT_CAPTURE_CONTENT.variable: contract.AGENT_CAPTURE_CONTENT.kind.encode(capture_content),
    }


def credential_arguments() -> dict[str, str]:
    """Return the dummy credentials as boto3 client arguments."""
    return {
        "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
