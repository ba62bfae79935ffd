"""The fallback model of `endpoint.fallback` (`AGENT_FALLBACK`): its JSON shape; what a Bedrock id names.

A fallback answers while the environment's own model has no copy in service (docs/agent-api.md, "A fallback
model"). It is an Amazon Bedrock model, named by a foundation model id or a cross-Region (system-defined)
inference profile id, or another SageMaker endpoint (and inference component) that this project's provider
reads:

    {"bedrock_model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}
    {"endpoint_name": "small-llm", "inference_component_name": "small-llm-ic", "response_format": "auto",
     "text_tool_calls": "hermes"}

(an endpoint's `text_tool_calls` is its model family's tool-call syntax, as `AGENT_TEXT_TOOL_CALLS` is the
own model's), either with an optional `"max_tokens"`, a cap on what a turn may ask the fallback for (a request
asking for more gets the cap).

Standard library only: the CDK app loads this file with the contract, to validate cdk.json with the very same
rules and to grant the function exactly the configured model (stacks/agent_api/fallback_grant.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from .setting_kinds import InvalidValue, Kind, Problem

BEDROCK_MODEL_ID: Final = "bedrock_model_id"
ENDPOINT_NAME: Final = "endpoint_name"
INFERENCE_COMPONENT_NAME: Final = "inference_component_name"
RESPONSE_FORMAT: Final = "response_format"
TEXT_TOOL_CALLS: Final = "text_tool_calls"
MAX_TOKENS: Final = "max_tokens"
_BEDROCK_KEYS: Final = (BEDROCK_MODEL_ID, MAX_TOKENS)
_ENDPOINT_KEYS: Final = (
    ENDPOINT_NAME,
    INFERENCE_COMPONENT_NAME,
    RESPONSE_FORMAT,
    TEXT_TOOL_CALLS,
    MAX_TOKENS,
)

# A foundation model id: the "model id" alternative of botocore's bedrock-runtime ConversationalModelId
# pattern (the modelId of Converse and ConverseStream, 2023-09-30), e.g.
# anthropic.claude-3-5-haiku-20241022-v1:0. tests/agent_api/test_agent_api_fallback_settings.py checks the
# ids accepted here against botocore's pattern.
FOUNDATION_MODEL_ID_PATTERN: Final = re.compile(r"[a-z0-9-]{1,63}[.][a-z0-9-]{1,63}([.:]?[a-z0-9-]{1,63})")
# Cross-Region (system-defined) inference profiles are named "<geography>.<foundation model id>". The
# geographies and the Regions each may be called from, as the CDK's Bedrock module knows them
# (@aws-cdk/aws-bedrock-alpha, CrossRegionInferenceProfileRegion): a Region prefix ends in "-", anything
# else is a whole Region name. "global" routes to every commercial Region and is called from them.
GLOBAL: Final = "global"
GEOGRAPHY_SOURCE_REGIONS: Final = {
    "us": ("us-",),
    "us-gov": ("us-gov-",),
    "eu": ("eu-",),
    "apac": ("ap-", "me-"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    GLOBAL: ("",),
}
# Regions outside the commercial partition (`aws`), whose profiles are their own ("us-gov.").
_NON_COMMERCIAL_PREFIXES: Final = ("us-gov-", "cn-", "us-iso", "eusc-")
_ARN_PREFIX: Final = "arn:"
SHAPE: Final = (
    'an object: {"bedrock_model_id": ID} (a Bedrock foundation model or cross-Region inference profile id) '
    'or {"endpoint_name": NAME, "inference_component_name": NAME, "response_format": FORMAT, '
    '"text_tool_calls": SYNTAX} (another SageMaker endpoint; the last three optional), either with an '
    'optional "max_tokens" cap'
)


@dataclass(frozen=True)
class BedrockModelId:
    """A Bedrock model id as configured, the foundation model it runs, and the profile's geography if any."""

    model_id: str
    foundation_model: str
    geography: str | None = None
    """None for a foundation model id (invoked on demand in the function's Region); else the inference
    profile's geography prefix, `global` included."""

    @property
    def is_profile(self) -> bool:
        """Whether the id names a cross-Region inference profile."""
        return self.geography is not None


@dataclass(frozen=True)
class BedrockFallback:
    """An Amazon Bedrock model, invoked through Strands' own `BedrockModel` (Converse)."""

    model: BedrockModelId
    max_tokens: int | None = None

    @property
    def name(self) -> str:
        """What the `status` and `done` events call it: the configured id."""
        return self.model.model_id


@dataclass(frozen=True)
class EndpointFallback:
    """Another SageMaker endpoint (and inference component), read by this project's provider."""

    endpoint_name: str
    inference_component_name: str | None = None
    response_format: str = "auto"
    text_tool_calls: str = "false"
    """Its model family's tool-call syntax in an answer's text, or "false" (`AGENT_TEXT_TOOL_CALLS`)."""
    max_tokens: int | None = None

    @property
    def name(self) -> str:
        """What the `status` and `done` events call it (`endpoint_model_name`)."""
        return endpoint_model_name(self.endpoint_name, self.inference_component_name)


Fallback = BedrockFallback | EndpointFallback


def endpoint_model_name(endpoint_name: str, inference_component_name: str | None) -> str:
    """Return what the events call a SageMaker model: its endpoint, and its component after a slash."""
    if inference_component_name is None:
        return endpoint_name
    return f"{endpoint_name}/{inference_component_name}"


def bedrock_model_id(text: str) -> BedrockModelId | None:
    """Return what a Bedrock model id names, or None if it is neither form this project supports."""
    geography, _, rest = text.partition(".")
    if geography in GEOGRAPHY_SOURCE_REGIONS and FOUNDATION_MODEL_ID_PATTERN.fullmatch(rest):
        return BedrockModelId(text, rest, geography)
    if FOUNDATION_MODEL_ID_PATTERN.fullmatch(text):
        return BedrockModelId(text, text)
    return None


def bedrock_model_problem(text: str) -> str | None:
    """Say why `text` is not a Bedrock model id this project can grant and invoke, or None."""
    if text.startswith(_ARN_PREFIX):
        return (
            f"got {text!r}; give the model or inference profile id, not an ARN (the stack derives the ARNs "
            "it grants from the id); application inference profiles, provisioned and custom models are not "
            "supported"
        )
    if bedrock_model_id(text) is None:
        geographies = ", ".join(f"{geography}." for geography in GEOGRAPHY_SOURCE_REGIONS)
        return (
            f"got {text!r}; expected a Bedrock foundation model id (provider.model, e.g. "
            "anthropic.claude-3-5-haiku-20241022-v1:0) or a cross-Region inference profile id (one of "
            f"{geographies} before one)"
        )
    return None


def region_problem(model: BedrockModelId, region: str | None) -> str | None:
    """Say why the function in `region` cannot call `model`'s inference profile, or None.

    A geographic profile can be called only from its geography's Regions, so the Region must be known; a
    foundation model id and a global profile depend on the model's own availability, which is not checked.
    """
    if model.geography is None:
        return None
    if model.geography == GLOBAL:
        if region is not None and region.startswith(_NON_COMMERCIAL_PREFIXES):
            return f"the global inference profile {model.model_id!r} is not available in {region}"
        return None
    allowed = GEOGRAPHY_SOURCE_REGIONS[model.geography]
    regions = ", ".join(f"{prefix}*" if prefix.endswith("-") else prefix for prefix in allowed)
    if region is None:
        return (
            f"the inference profile {model.model_id!r} can be called only from {regions}: the environment's "
            "region must be set to check it"
        )
    fits = any(region.startswith(prefix) if prefix.endswith("-") else region == prefix for prefix in allowed)
    if not fits or (model.geography == "us" and region.startswith("us-gov-")):
        return f"the inference profile {model.model_id!r} can be called only from {regions}, not {region}"
    return None


@dataclass(frozen=True)
class FallbackKind(Kind):
    """`endpoint.fallback`: a JSON object (module docstring), read as a `BedrockFallback`/`EndpointFallback`.

    Its fields are checked with the settings table's own kinds for the same values (the endpoint and component
    names, the response format, the token limit), so a fallback endpoint obeys the rules the own one does.
    """

    endpoint_name: Kind
    inference_component_name: Kind
    response_format: Kind
    text_tool_calls: Kind
    max_tokens: Kind

    @property
    def allowed(self) -> str:
        """The object's shape, in words."""
        return SHAPE

    def check(self, value: Any) -> list[Problem]:
        """Return the problems of a `cdk.json` value, each at its key."""
        return self._problems(value)

    def encode(self, value: Any) -> str:
        """Return the value as compact JSON."""
        return json.dumps(value, separators=(",", ":"))

    def read(self, text: str) -> Fallback:
        """Return the fallback the variable's JSON describes."""
        try:
            value = json.loads(text)
        except ValueError as error:
            raise InvalidValue(Problem("", f"is not JSON ({error})")) from None
        problems = self._problems(value)
        if problems:
            raise InvalidValue(*problems)
        return parse_fallback(value)

    def _problems(self, value: Any) -> list[Problem]:
        if not isinstance(value, dict):
            return [Problem("", f"got {value!r}; expected {SHAPE}")]
        bedrock = BEDROCK_MODEL_ID in value
        if bedrock == (ENDPOINT_NAME in value):
            return [Problem("", f"give exactly one of {BEDROCK_MODEL_ID!r} and {ENDPOINT_NAME!r}")]
        allowed = _BEDROCK_KEYS if bedrock else _ENDPOINT_KEYS
        problems = [
            Problem(f".{key}", f"unknown key; allowed with {allowed[0]!r}: {', '.join(allowed)}")
            for key in sorted(set(value) - set(allowed))
        ]
        if bedrock:
            model = value[BEDROCK_MODEL_ID]
            text = model if isinstance(model, str) else None
            problem = f"got {model!r}; expected a string" if text is None else bedrock_model_problem(text)
            if problem is not None:
                problems.append(Problem(f".{BEDROCK_MODEL_ID}", problem))
        checks = {
            ENDPOINT_NAME: self.endpoint_name,
            INFERENCE_COMPONENT_NAME: self.inference_component_name,
            RESPONSE_FORMAT: self.response_format,
            TEXT_TOOL_CALLS: self.text_tool_calls,
            MAX_TOKENS: self.max_tokens,
        }
        for key, kind in checks.items():
            if key in value and key in allowed:
                problems.extend(Problem(f".{key}", p.text) for p in kind.check(value[key]))
        return problems


def parse_fallback(value: dict[str, Any]) -> Fallback:
    """Return the fallback a valid `endpoint.fallback` object describes (`FallbackKind` checked it)."""
    if BEDROCK_MODEL_ID in value:
        model = bedrock_model_id(value[BEDROCK_MODEL_ID])
        if model is None:
            raise InvalidValue(Problem(f".{BEDROCK_MODEL_ID}", "is not a Bedrock model id"))
        return BedrockFallback(model, value.get(MAX_TOKENS))
    return EndpointFallback(
        value[ENDPOINT_NAME],
        value.get(INFERENCE_COMPONENT_NAME),
        value.get(RESPONSE_FORMAT, "auto"),
        value.get(TEXT_TOOL_CALLS, "false"),
        value.get(MAX_TOKENS),
    )
