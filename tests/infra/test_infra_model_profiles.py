"""Model profiles at synth: what `cdk.json`'s `model` section accepts is what the serving container accepts,
and the container gets the profile and parser overrides as its SERVE_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from serve_contract import PROFILES
from serve_settings import SettingsError, engine_command, load_settings

from stacks.config import ConfigError, parse_environment
from stacks.inference.hosting import serving_environment


def _model(**model: Any) -> Any:
    return parse_environment("dev", {"model": {"hf_model_id": "org/model", **model}}).model


def _container_command(model: Any) -> list[str]:
    env = {k: v for k, v in serving_environment(model, 1).items() if k.startswith("SERVE_")}
    return engine_command(load_settings(env, engine_templates={}))


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_synthesizes_and_starts_the_engine_with_its_parsers(profile: str, engine: str) -> None:
    command = _container_command(_model(engine=engine, profile=profile))
    flags = PROFILES[profile].flags(engine)
    assert command[command.index("--tool-call-parser") + 1] == flags.tool_call_parser
    if flags.reasoning_parser is None:
        assert "--reasoning-parser" not in command
    else:
        assert command[command.index("--reasoning-parser") + 1] == flags.reasoning_parser


def test_the_default_profile_is_llama3() -> None:
    assert _model().profile == "llama3"
    assert serving_environment(_model(), 1)["SERVE_MODEL_PROFILE"] == "llama3"


def test_parser_overrides_reach_the_container() -> None:
    model = _model(engine="vllm", profile="qwen3", tool_call_parser="qwen3_xml", reasoning_parser="none")
    command = _container_command(model)
    assert command[command.index("--tool-call-parser") + 1] == "qwen3_xml"
    assert "--reasoning-parser" not in command


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ({"profile": "gemma"}, "model.profile"),
        # SGLang's name for the Qwen parser is not vLLM's, and the other way round.
        ({"engine": "vllm", "tool_call_parser": "qwen25"}, "model.tool_call_parser"),
        ({"engine": "sglang", "reasoning_parser": "deepseek_r1"}, "model.reasoning_parser"),
    ],
)
def test_names_the_engine_does_not_have_fail_at_synth(model: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _model(**model)


def test_the_container_rejects_what_synth_rejects(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(SettingsError, match="SERVE_TOOL_CALL_PARSER"):
        load_settings(
            {"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(tmp_path), "SERVE_TOOL_CALL_PARSER": "qwen25"}
        )


# The syntax the agent reads calls left in an answer's text in (AGENT_TEXT_TOOL_CALLS): its model family's.
FAMILY_SYNTAX = {
    "llama3": "llama3_json",
    "qwen3": "hermes",
    "mistral": "mistral",
    # DeepSeek's call tokens and gpt-oss's harmony channels have no text form the provider reads.
    "deepseek_r1": "false",
    "gpt_oss": "false",
}


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_the_agent_reads_text_tool_calls_in_the_profiles_syntax(profile: str, engine: str) -> None:
    config = parse_environment(
        "dev", {"model": {"hf_model_id": "org/model", "engine": engine, "profile": profile}}
    )
    assert config.text_tool_calls == FAMILY_SYNTAX[profile]


@pytest.mark.parametrize(
    ("parser", "syntax"), [("hermes", "hermes"), ("llama4_json", "llama3_json"), ("none", "llama3_json")]
)
def test_a_parser_override_names_the_syntax_and_none_keeps_the_familys(parser: str, syntax: str) -> None:
    config = parse_environment(
        "dev", {"model": {"hf_model_id": "org/model", "engine": "vllm", "tool_call_parser": parser}}
    )
    assert config.text_tool_calls == syntax
