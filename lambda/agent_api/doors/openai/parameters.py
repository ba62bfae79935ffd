"""The optional parameters the OpenAI doors take, each once: passed to the model, accepted, or refused.

Chat front ends and SDKs send their defaults with every request (docs/agent-api.md, "What OpenAI clients
send"), so a parameter is refused only when honouring it would change what the answer means: client tools
(`tools_not_supported`), more than one choice, log probabilities, a structured output format, token biases.
The rest is either passed to the model (sampling, in OpenAI's names: the provider sends them as the
deployment's response format names them) or accepted and ignored because it asks nothing of the answer
(`user`, `metadata`, `n: 1`, `logprobs: false`, ...). A value equal to OpenAI's default (`top_p: 1`, a
penalty of 0) asks for nothing either, and is not passed on: a server without that parameter (TGI's native
API has no `presence_penalty`) never sees it.

Each rule is a function of the value and the parameter's name that returns what to pass to the model (None
for nothing) or raises `RequestError` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeGuard

from agent_api.validation import RequestError

Rule = Callable[[Any, str], Any]
"""Checks one parameter's value: returns what to pass to the model (None: nothing), or raises."""

MAX_STOP_SEQUENCES: Final = 4
SEED_RANGE: Final = (-(2**63), 2**63 - 1)
PENALTY_RANGE: Final = (-2.0, 2.0)


def _invalid(name: str, rule: str) -> RequestError:
    return RequestError(400, "invalid_field", f"field '{name}' must be {rule}", name)


def _unsupported(name: str, why: str) -> RequestError:
    return RequestError(400, "unsupported_parameter", f"'{name}' is not supported: {why}", name)


def _tools(name: str) -> RequestError:
    return RequestError(
        400,
        "tools_not_supported",
        f"'{name}' is not supported: the agent runs its own tools on the server and never asks the client "
        "to run one",
        name,
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _only(value: Any, name: str, allowed: int, why: str) -> None:
    """Accept an integer parameter (or null) only at the one value this API supports."""
    if value is None:
        return
    if not _integer(value):
        raise _invalid(name, "an integer")
    if value != allowed:
        raise _unsupported(name, why)


# --- passed to the model --------------------------------------------------------------------------------
def top_p(value: Any, name: str) -> float | None:
    """Check nucleus sampling: (0, 1]; 1, keeping every token, is the default.

    Every server of the project refuses an empty nucleus (vLLM: "top_p must be in (0, 1]").
    """
    if value is None:
        return None
    if not _number(value) or not 0 < value <= 1:
        raise _invalid(name, "a number above 0 and at most 1")
    return None if value == 1 else float(value)


def stop(value: Any, name: str) -> list[str] | None:
    """Up to four stop sequences (OpenAI's limit), a string or an array of non-empty strings."""
    if value is None:
        return None
    sequences = [value] if isinstance(value, str) else value
    if (
        not isinstance(sequences, list)
        or len(sequences) > MAX_STOP_SEQUENCES
        or not all(isinstance(item, str) and item for item in sequences)
    ):
        raise _invalid(name, f"a non-empty string or an array of at most {MAX_STOP_SEQUENCES} of them")
    return sequences or None


def seed(value: Any, name: str) -> int | None:
    """Check a seed for reproducible sampling: a 64-bit integer."""
    if value is None:
        return None
    low, high = SEED_RANGE
    if not _integer(value) or not low <= value <= high:
        raise _invalid(name, "a 64-bit integer")
    return value


def penalty(value: Any, name: str) -> float | None:
    """`frequency_penalty` and `presence_penalty`: -2 to 2; 0, the default, is not passed on."""
    if value is None:
        return None
    low, high = PENALTY_RANGE
    if not _number(value) or not low <= value <= high:
        raise _invalid(name, f"a number from {low:g} to {high:g}")
    return None if value == 0 else float(value)


# --- accepted and ignored: they ask nothing of the answer ----------------------------------------------
def text(value: Any, name: str) -> None:
    """Check a string that only labels the request (`user`, `prompt_cache_key`, `service_tier`, ...)."""
    if value is not None and not isinstance(value, str):
        raise _invalid(name, "a string")


def flag(value: Any, name: str) -> None:
    """Check a boolean that changes nothing here (`store` of a completion, `parallel_tool_calls`)."""
    if value is not None and not isinstance(value, bool):
        raise _invalid(name, "a boolean")


def metadata(value: Any, name: str) -> None:
    """OpenAI's metadata: at most 16 string values, keys up to 64 and values up to 512 characters."""
    if value is None:
        return
    if (
        not isinstance(value, dict)
        or len(value) > 16
        or not all(isinstance(k, str) and len(k) <= 64 for k in value)
        or not all(isinstance(v, str) and len(v) <= 512 for v in value.values())
    ):
        raise _invalid(name, "an object of at most 16 strings (keys up to 64, values up to 512 characters)")


def reasoning_effort(value: Any, name: str) -> None:
    """How hard a reasoning model thinks: the deployment's model decides that; any effort is accepted."""
    text(value, name)


def one_choice(value: Any, name: str) -> None:
    """`n`: only one choice is generated."""
    _only(value, name, 1, "only one choice is generated: 'n' must be 1")


def no_logprobs(value: Any, name: str) -> None:
    """`logprobs`: false (or null) only; the agent's answer has no token log probabilities."""
    flag(value, name)
    if value:
        raise _unsupported(name, "the agent's answer carries no log probabilities")


def no_top_logprobs(value: Any, name: str) -> None:
    """`top_logprobs`: 0 (or null) only."""
    _only(value, name, 0, "the agent's answer carries no log probabilities")


def no_logit_bias(value: Any, name: str) -> None:
    """`logit_bias`: empty only: its token ids are a model's own, which the client cannot know here."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise _invalid(name, "an object")
    if value:
        raise _unsupported(name, "token biases name token ids of a model this API does not expose")


def text_format(value: Any, name: str) -> None:
    """`response_format` (chat completions): `{"type": "text"}` only, the answer's one format."""
    if value is None:
        return
    if not isinstance(value, dict) or "type" not in value:
        raise _invalid(name, 'an object with a "type"')
    if value != {"type": "text"}:
        raise _unsupported(name, "the agent answers in text only (no JSON mode or schema)")


def text_modalities(value: Any, name: str) -> None:
    """`modalities`: `["text"]` only."""
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(name, "an array of strings")
    if value != ["text"]:
        raise _unsupported(name, "the agent answers in text only")


def no_tools(value: Any, name: str) -> None:
    """`tools` (and the deprecated `functions`): an empty array only (some clients always send one)."""
    if value is None or value == []:
        return
    if not isinstance(value, list):
        raise _invalid(name, "an array")
    raise _tools(name)


def no_tool_choice(value: Any, name: str) -> None:
    """`tool_choice` (and `function_call`): "none", or "auto", which offers nothing here."""
    if value is None or value in ("none", "auto"):
        return
    raise _tools(name)


def no_background(value: Any, name: str) -> None:
    """`background` (responses): false only; every answer is given while the request waits."""
    flag(value, name)
    if value:
        raise _unsupported(name, "responses are answered while the request waits, never in the background")


def reasoning(value: Any, name: str) -> None:
    """`reasoning` (responses): `{"effort", "summary"}`, accepted: the deployment's model decides."""
    if value is None:
        return
    if not isinstance(value, dict) or set(value) - {"effort", "summary", "generate_summary"}:
        raise _invalid(name, 'an object with at most "effort" and "summary"')


def response_text(value: Any, name: str) -> None:
    """`text` (responses): the text format only (`{"format": {"type": "text"}}`), any verbosity."""
    if value is None:
        return
    if not isinstance(value, dict) or set(value) - {"format", "verbosity"}:
        raise _invalid(name, 'an object with at most "format" and "verbosity"')
    if value.get("format") not in (None, {"type": "text"}):
        raise _unsupported(f"{name}.format", "the agent answers in text only (no JSON mode or schema)")


def truncation(value: Any, name: str) -> None:
    """Check `truncation` (responses): "disabled" or "auto".

    The agent's sliding window keeps the conversation within the model's context either way (the oldest
    turns leave it first).
    """
    if value is not None and value not in ("disabled", "auto"):
        raise _invalid(name, '"disabled" or "auto"')


def include(value: Any, name: str) -> None:
    """`include` (responses): extra output data to include; none of it exists here, so nothing is added."""
    if value is not None and (not isinstance(value, list) or not all(isinstance(i, str) for i in value)):
        raise _invalid(name, "an array of strings")


def stream_options(value: Any, name: str) -> None:
    """`stream_options` (responses): `include_obfuscation`, accepted (this API never pads its events)."""
    if value is None:
        return
    if not isinstance(value, dict) or set(value) - {"include_obfuscation"}:
        raise _invalid(name, 'an object with at most "include_obfuscation"')
    flag(value.get("include_obfuscation"), f"{name}.include_obfuscation")


SAMPLING: Final[Mapping[str, Rule]] = {
    "top_p": top_p,
    "stop": stop,
    "seed": seed,
    "frequency_penalty": penalty,
    "presence_penalty": penalty,
}
"""Passed to the model (besides `max_tokens` and `temperature`, which every door takes)."""

COMPLETIONS_IGNORED: Final[Mapping[str, Rule]] = {
    "user": text,
    "metadata": metadata,
    "store": flag,
    "service_tier": text,
    "prompt_cache_key": text,
    "safety_identifier": text,
    "reasoning_effort": reasoning_effort,
    "n": one_choice,
    "logprobs": no_logprobs,
    "top_logprobs": no_top_logprobs,
    "logit_bias": no_logit_bias,
    "response_format": text_format,
    "modalities": text_modalities,
    "parallel_tool_calls": flag,
    "tools": no_tools,
    "functions": no_tools,
    "tool_choice": no_tool_choice,
    "function_call": no_tool_choice,
}
"""`/v1/chat/completions`: accepted, checked, and ignored (or refused when they would change the meaning)."""

RESPONSES_SAMPLING: Final[Mapping[str, Rule]] = {"top_p": top_p}
"""The Responses API's sampling parameters besides `temperature` and `max_output_tokens`."""

RESPONSES_IGNORED: Final[Mapping[str, Rule]] = {
    "user": text,
    "metadata": metadata,
    "service_tier": text,
    "prompt_cache_key": text,
    "safety_identifier": text,
    "reasoning": reasoning,
    "text": response_text,
    "truncation": truncation,
    "include": include,
    "stream_options": stream_options,
    "top_logprobs": no_top_logprobs,
    "background": no_background,
    "parallel_tool_calls": flag,
    "tools": no_tools,
    "tool_choice": no_tool_choice,
}
"""`/v1/responses`: accepted, checked, and ignored (or refused when they would change the meaning)."""


def sampling(data: Mapping[str, Any], rules: Mapping[str, Rule]) -> dict[str, Any]:
    """Check the sampling parameters `rules` names; return those to pass to the model."""
    passed = {name: rule(data.get(name), name) for name, rule in rules.items()}
    return {name: value for name, value in passed.items() if value is not None}


def check_ignored(data: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Check the accepted-and-ignored parameters `rules` names (refusing what would change the meaning)."""
    for name, rule in rules.items():
        rule(data.get(name), name)
