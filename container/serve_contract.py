"""What the serving container and its deployment agree on: its `SERVE_*` variables, engines, model profiles.

Standard library only: `serve_settings` imports it inside the image and on the developer's machine, and the
CDK app and the local stack load this one file (`stacks/inference/serving_contract.py`): synth validates
`cdk.json`'s `model` section with the same model profiles and parser names and writes the model's
environment with these names, so a value synth accepts is one the container accepts.

Model profiles: for each model family, the tool-call parser and reasoning parser each engine runs it with.
Parser names are those the engines' own source registers (the container and synth accept exactly these):

- vLLM 0.32 (`vllm/tool_parsers/__init__.py` `_TOOL_PARSERS_TO_REGISTER`,
  `vllm/reasoning/__init__.py` `_REASONING_PARSERS_TO_REGISTER`, read from the installed package);
- SGLang main (sgl-project/sglang commit 00828e5, `python/sglang/srt/function_call/function_call_parser.py`
  `FunctionCallParser.ToolCallParserEnum`, `python/sglang/srt/parser/reasoning_parser.py`
  `ReasoningParser.DetectorMap`).

A newer engine may accept more names: add them here, next to the version they come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --- The container's environment variables (docs/container.md, "Settings") ------------------------------
SERVE_ENGINE: Final = "SERVE_ENGINE"
SERVE_MODEL_ID: Final = "SERVE_MODEL_ID"
SERVE_MODEL_DIR: Final = "SERVE_MODEL_DIR"
SERVE_HF_TOKEN_SECRET: Final = "SERVE_HF_TOKEN_SECRET"  # noqa: S105 (a variable's name, not a secret)
SERVE_TP_DEGREE: Final = "SERVE_TP_DEGREE"
SERVE_MAX_MODEL_LEN: Final = "SERVE_MAX_MODEL_LEN"
SERVE_MODEL_PROFILE: Final = "SERVE_MODEL_PROFILE"
SERVE_TOOL_CALL_PARSER: Final = "SERVE_TOOL_CALL_PARSER"
SERVE_REASONING_PARSER: Final = "SERVE_REASONING_PARSER"
SERVE_CHAT_TEMPLATE: Final = "SERVE_CHAT_TEMPLATE"
SERVE_SERVED_MODEL_NAME: Final = "SERVE_SERVED_MODEL_NAME"
SERVE_HOST: Final = "SERVE_HOST"
SERVE_PORT: Final = "SERVE_PORT"
SERVE_DEVICE: Final = "SERVE_DEVICE"
SERVE_EXTRA_ARGS: Final = "SERVE_EXTRA_ARGS"
#: Every variable `serve` reads; another `SERVE_*` variable stops it (a typo must not be ignored).
KNOWN_VARIABLES: Final = frozenset(
    {
        SERVE_ENGINE,
        SERVE_MODEL_ID,
        SERVE_MODEL_DIR,
        SERVE_HF_TOKEN_SECRET,
        SERVE_TP_DEGREE,
        SERVE_MAX_MODEL_LEN,
        SERVE_MODEL_PROFILE,
        SERVE_TOOL_CALL_PARSER,
        SERVE_REASONING_PARSER,
        SERVE_CHAT_TEMPLATE,
        SERVE_SERVED_MODEL_NAME,
        SERVE_HOST,
        SERVE_PORT,
        SERVE_DEVICE,
        SERVE_EXTRA_ARGS,
    }
)
VARIABLE_PREFIX: Final = "SERVE_"

ENGINES: Final = ("sglang", "vllm")

#: Tool-call parser names each engine accepts (``--tool-call-parser``).
TOOL_CALL_PARSERS: Final = {
    "sglang": frozenset(
        [
            "apertus2509",
            "cohere_command4",
            "deepseekv3",
            "deepseekv31",
            "deepseekv32",
            "deepseekv4",
            "dots",
            "glm",
            "glm45",
            "glm47",
            "gpt-oss",
            "k2_horizon",
            "kimi_k2",
            "kimi_k3",
            "lfm2",
            "ling3",
            "llama3",
            "mimo",
            "minicpm5",
            "mistral",
            "muse",
            "poolside_v1",
            "pythonic",
            "qwen",
            "qwen25",
            "qwen3_coder",
            "spark25",
            "step3",
            "step3p5",
            "minimax-m2",
            "minimax-m3",
            "trinity",
            "interns1",
            "hermes",
            "hunyuan",
            "gigachat3",
            "gigachat35",
            "gemma4",
            "inkling",
        ]
    ),
    "vllm": frozenset(
        [
            "apertus",
            "cohere_command3",
            "cohere_command4",
            "deepseek_v3",
            "deepseek_v31",
            "deepseek_v32",
            "deepseek_v4",
            "deepseek_v41",
            "dots",
            "ernie45",
            "functiongemma",
            "gemma4",
            "gigachat3",
            "glm45",
            "glm47",
            "granite",
            "granite-20b-fc",
            "granite4",
            "hermes",
            "hf",
            "hunyuan_a13b",
            "hy_v3",
            "hy_v4",
            "inkling",
            "internlm",
            "jamba",
            "k2_horizon",
            "kimi_k2",
            "kimi_k3",
            "lfm2",
            "ling3",
            "llama3_json",
            "llama4_json",
            "llama4_pythonic",
            "longcat",
            "mimo",
            "minicpm5",
            "minimax_m2",
            "minimax_m3",
            "mistral",
            "muse_glimmer",
            "olmo3",
            "openai",
            "phi4_mini_json",
            "plamo3",
            "poolside_v1",
            "pythonic",
            "qwen3_coder",
            "qwen3_json",
            "qwen3_xml",
            "seed_oss",
            "step3",
            "step3p5",
            "xlam",
        ]
    ),
}
#: Reasoning parser names each engine accepts (``--reasoning-parser``).
REASONING_PARSERS: Final = {
    "sglang": frozenset(
        [
            "deepseek-r1",
            "deepseek-v3",
            "deepseek-v4",
            "glm45",
            "hunyuan",
            "gpt-oss",
            "kimi",
            "kimi_k2",
            "mimo",
            "poolside_v1",
            "qwen3",
            "qwen3-thinking",
            "minimax",
            "minimax-append-think",
            "step3",
            "step3p5",
            "mistral",
            "nemotron_3",
            "interns1",
            "gemma4",
        ]
    ),
    "vllm": frozenset(
        [
            "cohere_command3",
            "cohere_command4",
            "deepseek_r1",
            "deepseek_v3",
            "deepseek_v4",
            "deepseek_v41",
            "ernie45",
            "gemma4",
            "glm45",
            "glm47",
            "granite",
            "granite_thinking_parser",
            "hf",
            "holo2",
            "hunyuan_a13b",
            "hy_v3",
            "hy_v4",
            "inkling",
            "k2_horizon",
            "kimi_k2",
            "kimi_k3",
            "ling3",
            "mimo",
            "minicpmv",
            "minimax_m2",
            "minimax_m2_append_think",
            "minimax_m3",
            "mistral",
            "muse_glimmer",
            "nemotron_v3",
            "olmo3",
            "openai_gptoss",
            "plamo3",
            "poolside_v1",
            "qwen3",
            "seed_oss",
            "step3",
            "step3p5",
        ]
    ),
}
#: Turns the profile's parser off when given instead of a name.
NONE: Final = "none"


@dataclass(frozen=True)
class EngineFlags:
    """What one engine runs a model family with: its tool-call parser and its reasoning parser."""

    tool_call_parser: str
    reasoning_parser: str | None = None


@dataclass(frozen=True)
class Profile:
    """A model family's flags for each engine."""

    sglang: EngineFlags
    vllm: EngineFlags

    def flags(self, engine: str) -> EngineFlags:
        """Return the flags of ``engine`` (``sglang`` or ``vllm``)."""
        return self.sglang if engine == "sglang" else self.vllm


def parser_problem(kind: str, engine: str, name: str) -> str | None:
    """Return why ``name`` is not a ``kind`` (``tool-call``/``reasoning``) parser of ``engine``, or None."""
    accepted = (TOOL_CALL_PARSERS if kind == "tool-call" else REASONING_PARSERS)[engine]
    if name == NONE or name in accepted:
        return None
    return f"{name!r} is not a {engine} {kind} parser (one of: {NONE}, {', '.join(sorted(accepted))})"


PROFILES: Final = {
    # Llama 3.1 / 3.2 / 3.3: JSON tool calls; vLLM also needs its Llama 3.1 JSON tool chat template, which
    # serve_settings adds when the model's own template does not render tools.
    "llama3": Profile(EngineFlags("llama3"), EngineFlags("llama3_json")),
    # Qwen3: Hermes-style <tool_call> blocks and <think> reasoning (SGLang's qwen25 parser reads them).
    "qwen3": Profile(EngineFlags("qwen25", "qwen3"), EngineFlags("hermes", "qwen3")),
    # Mistral 7B v0.3 / Nemo / Small: [TOOL_CALLS][...].
    "mistral": Profile(EngineFlags("mistral"), EngineFlags("mistral")),
    # DeepSeek-R1 distills and V3: DeepSeek tool-call tokens and <think> reasoning.
    "deepseek_r1": Profile(
        EngineFlags("deepseekv3", "deepseek-r1"), EngineFlags("deepseek_v3", "deepseek_r1")
    ),
    # gpt-oss: harmony channels for both.
    "gpt_oss": Profile(EngineFlags("gpt-oss", "gpt-oss"), EngineFlags("openai", "openai_gptoss")),
}
#: The syntax each tool-call parser reads, as the agent's provider names it (its `text_tool_calls`,
#: docs/provider.md): where a parser left a call in the text, the provider looks for that family's syntax
#: only. A parser missing here (DeepSeek's tokens, gpt-oss's harmony channels) has no text form it reads.
TEXT_TOOL_CALL_SYNTAXES: Final = {
    "llama3": "llama3_json",
    "llama3_json": "llama3_json",
    "llama4_json": "llama3_json",
    "qwen25": "hermes",
    "hermes": "hermes",
    "mistral": "mistral",
}


def text_tool_call_syntax(engine: str, profile: str, tool_call_parser: str | None = None) -> str | None:
    """Return the tool-call syntax of the model family ``profile`` (or the parser named instead), or None.

    ``tool_call_parser`` is a deployment's override of the profile's parser; ``none`` turns the server's
    parser off without changing the family, so the profile's syntax stays the one to look for.
    """
    parser = tool_call_parser if tool_call_parser not in (None, NONE) else None
    return TEXT_TOOL_CALL_SYNTAXES.get(parser or PROFILES[profile].flags(engine).tool_call_parser)


DEFAULT_PROFILE: Final = "llama3"
DEFAULT_MODEL_DIR: Final = "/opt/ml/model"
DEVICES: Final = {"sglang": ("cuda", "cpu"), "vllm": ("cuda", "cpu")}
DEFAULT_SERVED_MODEL_NAME: Final = "model"
