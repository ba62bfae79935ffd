"""A fallback model on the local stack (issue 23): Bedrock's Converse, or a second endpoint, on the same vLLM.

While the endpoint's own model (an inference component scaled to zero, ``--cold``) wakes, the agent API
answers with its fallback (docs/agent-api.md, "A fallback model"). Locally the emulator serves it too:

- ``bedrock``: Bedrock runtime's Converse and ConverseStream for ``FALLBACK_MODEL_ID``, translated to the
  same vLLM's chat completions; the agent API's ``bedrock-runtime`` client reaches the emulator through
  botocore's ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, and Strands' own ``BedrockModel`` runs on it unmodified;
- ``endpoint``: a second SageMaker endpoint, ``FALLBACK_ENDPOINT``, whose inference component is in service
  from the start (a small model on a cheap always-on instance, on AWS).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Final

from local.emulator import ConverseModel, Endpoint
from stacks.agent_api.lambda_contract import contract, fallback_settings
from stacks.inference.serving_contract import serving

BEDROCK: Final = "bedrock"
ENDPOINT: Final = "endpoint"
KINDS: Final = (BEDROCK, ENDPOINT)
FALLBACK_MODEL_ID: Final = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
"""The Bedrock model id the emulator answers for (a US inference profile id, as a deployment names one)."""
FALLBACK_ENDPOINT: Final = "local-fallback-endpoint"
FALLBACK_COMPONENT: Final = "local-fallback-component"


@dataclass(frozen=True)
class LocalFallback:
    """Which fallback the local stack serves (``kind``, one of ``KINDS``); whether it answers throttles too.

    Raises:
        ValueError: an unknown kind.

    """

    kind: str
    on_throttle: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"the fallback must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def setting(self, profile: str = serving.DEFAULT_PROFILE) -> dict[str, str]:
        """Return the agent API's ``endpoint.fallback`` value for it, on vLLM run with the model ``profile``.

        The fallback endpoint is the same vLLM: its answers' text may hold tool calls in the profile's syntax.
        """
        if self.kind == BEDROCK:
            return {fallback_settings.BEDROCK_MODEL_ID: FALLBACK_MODEL_ID}
        return {
            fallback_settings.ENDPOINT_NAME: FALLBACK_ENDPOINT,
            fallback_settings.INFERENCE_COMPONENT_NAME: FALLBACK_COMPONENT,
            fallback_settings.TEXT_TOOL_CALLS: serving.text_tool_call_syntax("vllm", profile)
            or contract.TEXT_TOOL_CALLS_OFF,
        }

    @property
    def name(self) -> str:
        """What the agent API's `status` and `done` events call it."""
        read = contract.AGENT_FALLBACK.kind.read(json.dumps(self.setting()))
        return str(read.name)

    @property
    def description(self) -> str:
        """What the running stack's usage text says of it."""
        return f"{self.name!r} ({self.kind}, on the emulator)"

    def endpoints(self, backend_url: str) -> dict[str, Endpoint]:
        """Return the emulator's endpoints beside the own one: the fallback's, in service from the start."""
        if self.kind != ENDPOINT:
            return {}
        return {
            FALLBACK_ENDPOINT: Endpoint(
                backend_url, inference_components=(FALLBACK_COMPONENT,), component_copies=1
            )
        }

    def converse_models(self, backend_url: str) -> dict[str, ConverseModel]:
        """Return the Bedrock models the emulator answers Converse for: the fallback model."""
        return {FALLBACK_MODEL_ID: ConverseModel(backend_url)} if self.kind == BEDROCK else {}

    def environment(self, emulator_url: str, profile: str = serving.DEFAULT_PROFILE) -> dict[str, str]:
        """Return the agent API's variables for it (its settings, and where its Bedrock client goes)."""
        variables = {
            contract.AGENT_FALLBACK.variable: contract.AGENT_FALLBACK.kind.encode(self.setting(profile)),
            contract.AGENT_FALLBACK_ON_THROTTLE.variable: contract.AGENT_FALLBACK_ON_THROTTLE.kind.encode(
                self.on_throttle
            ),
        }
        if self.kind == BEDROCK:
            variables["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = emulator_url
        return variables


def add_fallback_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--fallback`` and ``--fallback-on-throttle`` to a command's parser."""
    parser.add_argument(
        "--fallback",
        choices=KINDS,
        help="a fallback model on the same backend that answers while the model wakes: Bedrock's Converse "
        "(bedrock) or a second endpoint (endpoint)",
    )
    parser.add_argument(
        "--fallback-on-throttle",
        action="store_true",
        help="the fallback also answers when the model throttles (needs --fallback)",
    )


def fallback_from_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> LocalFallback | None:
    """Return the fallback the arguments ask for (None: none); a usage error if they do not fit together."""
    if args.fallback is None:
        if args.fallback_on_throttle:
            parser.error("--fallback-on-throttle needs --fallback")
        return None
    return LocalFallback(args.fallback, args.fallback_on_throttle)
