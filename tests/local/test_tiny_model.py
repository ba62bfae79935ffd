"""The tiny model builder: determinism, tokenizer, and its replies (a pure NumPy forward pass)."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from numpy.typing import NDArray
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from local.tiny_model import MODEL_FILES, build
from local.tiny_model.__main__ import main
from local.tiny_model.script import (
    CALL_ARGUMENTS,
    CALLED_TOOL,
    FORECAST_ARGUMENTS,
    FORECAST_CALL_TEXT,
    FORECAST_TOOL,
    HERMES_CALL_TEXT,
    PLAIN_TEXT,
    REASONING_ANSWER_TEXT,
    REASONING_TEXT,
    THOUGHT_TEXT,
    TOOL_CALL_TEXT,
    TOOL_RESULT_TEXT,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "London"]}},
            "required": ["city"],
        },
    },
}
ASK_WEATHER = {"role": "user", "content": "What is the weather like in Paris today?"}
TOOL_CALL_TURN = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ],
}
TOOL_RESULT_TURN = {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21, "sky": "sunny"}'}
ASK_TO_PONDER = {"role": "user", "content": "Please ponder the meaning of life."}
ASK_WEATHER_HERMES = {"role": "user", "content": "What is the weather like in Paris today, hermes style?"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path) -> Tokenizer:
    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


def render(model_dir: Path, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    """Render the chat template the way transformers does (sandbox, trim/lstrip blocks, JSON tojson)."""
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, indent=indent, ensure_ascii=False)
    template = env.from_string(config["chat_template"])
    return template.render(
        messages=messages, tools=tools, add_generation_prompt=True, bos_token=config["bos_token"]
    )


def rms_norm(x: NDArray[np.float32], weight: NDArray[np.float32], eps: float) -> NDArray[np.float32]:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope(x: NDArray[np.float32], positions: NDArray[np.int64], theta: float) -> NDArray[np.float32]:
    """Neox-style rotary embedding, as vLLM applies it to Llama: x is (tokens, heads, head_dim)."""
    half = x.shape[-1] // 2
    freqs = theta ** (-np.arange(half) * 2.0 / x.shape[-1])
    angles = positions[:, None] * freqs[None, :]
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def next_token_logits(
    w: dict[str, NDArray[np.float32]], config: dict[str, Any], ids: list[int]
) -> NDArray[np.float64]:
    """Logits for the token after `ids`: the Llama forward pass of the last position, in float64."""
    heads, head_dim, eps = config["num_attention_heads"], config["head_dim"], config["rms_norm_eps"]
    theta = config["rope_parameters"]["rope_theta"]
    layer = "model.layers.0."
    residual = w["model.embed_tokens.weight"][ids].astype(np.float64)
    x = rms_norm(residual, w[layer + "input_layernorm.weight"], eps)
    positions = np.arange(len(ids))

    def project(name: str) -> NDArray[np.float64]:
        return (x @ w[f"{layer}self_attn.{name}.weight"].T).reshape(len(ids), heads, head_dim)

    q, k, v = (
        rope(project("q_proj"), positions, theta),
        rope(project("k_proj"), positions, theta),
        project("v_proj"),
    )
    scores = np.einsum("hd,thd->ht", q[-1], k) / np.sqrt(head_dim)  # the last query sees every position
    probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    attended = np.einsum("ht,thd->hd", probs, v).reshape(heads * head_dim)
    last = residual[-1] + attended @ w[layer + "self_attn.o_proj.weight"].T
    h = rms_norm(last, w[layer + "post_attention_layernorm.weight"], eps)
    gate, up = h @ w[layer + "mlp.gate_proj.weight"].T, h @ w[layer + "mlp.up_proj.weight"].T
    last = last + (gate / (1 + np.exp(-gate)) * up) @ w[layer + "mlp.down_proj.weight"].T
    return rms_norm(last, w["model.norm.weight"], eps) @ w["lm_head.weight"].T


def generate(model_dir: Path, tokenizer: Tokenizer, prompt: str, max_tokens: int = 16) -> tuple[str, float]:
    """Greedy decoding until an end-of-sequence id; returns the text and the smallest top-1 margin seen."""
    weights = load_file(str(model_dir / "model.safetensors"))
    config = json.loads((model_dir / "config.json").read_text())
    ids = tokenizer.encode(prompt, add_special_tokens=False).ids
    generated: list[int] = []
    smallest_margin = float("inf")
    for _ in range(max_tokens):
        logits = next_token_logits(weights, config, ids + generated)
        top2 = np.sort(logits)[-2:]
        smallest_margin = min(smallest_margin, float(top2[1] - top2[0]))
        token = int(np.argmax(logits))
        if token in config["eos_token_id"]:
            break
        generated.append(token)
    return tokenizer.decode(generated, skip_special_tokens=True), smallest_margin


def test_build_writes_the_same_bytes_twice(tmp_path: Path) -> None:
    first, second = build(tmp_path / "a"), build(tmp_path / "b")
    for name in MODEL_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_build_rejects_a_file_as_output_directory(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        build(target)


def test_cli_builds_the_model_and_prints_its_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(MODEL_FILES)


def test_cli_reports_an_unwritable_directory_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([str(blocker / "model")]) == 1
    assert "cannot write the tiny model" in capsys.readouterr().err


def test_tokenizer_round_trips_text(tokenizer: Tokenizer) -> None:
    text = 'Hello! Ünïcödé weather in Paris: {"city": "Paris"} 42\n\n'
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False).ids) == text


def test_tokenizer_keeps_llama_special_tokens_whole(tokenizer: Tokenizer) -> None:
    encoded = tokenizer.encode("<|start_header_id|>ipython<|end_header_id|><|python_tag|><|eot_id|>")
    assert encoded.tokens[0] == "<|begin_of_text|>"
    assert [t for t in encoded.tokens if t.startswith("<|")] == [
        "<|begin_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|python_tag|>",
        "<|eot_id|>",
    ]


def test_config_describes_a_llama_with_room_for_the_vocabulary(model_dir: Path, tokenizer: Tokenizer) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["hidden_size"] >= config["vocab_size"] >= tokenizer.get_vocab_size()


def test_answers_plainly_without_tools(model_dir: Path, tokenizer: Tokenizer) -> None:
    prompt = render(model_dir, [{"role": "user", "content": "Say hello."}], tools=None)
    assert generate(model_dir, tokenizer, prompt)[0] == PLAIN_TEXT


def test_calls_the_weather_tool_when_tools_are_offered(model_dir: Path, tokenizer: Tokenizer) -> None:
    prompt = render(model_dir, [ASK_WEATHER], tools=[WEATHER_TOOL])
    text, _ = generate(model_dir, tokenizer, prompt)
    assert text == TOOL_CALL_TEXT
    assert json.loads(text) == {"name": CALLED_TOOL, "parameters": CALL_ARGUMENTS}


def test_answers_from_the_tool_result(model_dir: Path, tokenizer: Tokenizer) -> None:
    prompt = render(model_dir, [ASK_WEATHER, TOOL_CALL_TURN, TOOL_RESULT_TURN], tools=[WEATHER_TOOL])
    assert generate(model_dir, tokenizer, prompt)[0] == TOOL_RESULT_TEXT


def test_system_prompt_does_not_change_the_reply(model_dir: Path, tokenizer: Tokenizer) -> None:
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}]
    assert generate(model_dir, tokenizer, render(model_dir, messages, tools=None))[0] == PLAIN_TEXT


def test_reasons_in_think_tags_when_asked_to_ponder(model_dir: Path, tokenizer: Tokenizer) -> None:
    prompt = render(model_dir, [ASK_TO_PONDER], tools=None)
    assert generate(model_dir, tokenizer, prompt)[0] == REASONING_TEXT
    assert f"<think>{THOUGHT_TEXT}</think>{REASONING_ANSWER_TEXT}" == REASONING_TEXT


def test_calls_the_weather_tool_in_hermes_syntax_when_asked(model_dir: Path, tokenizer: Tokenizer) -> None:
    prompt = render(model_dir, [ASK_WEATHER_HERMES], tools=[WEATHER_TOOL])
    text, _ = generate(model_dir, tokenizer, prompt)
    assert text == HERMES_CALL_TEXT
    assert text.startswith("<tool_call>") and text.endswith("</tool_call>")
    call = json.loads(text.removeprefix("<tool_call>").removesuffix("</tool_call>"))
    assert call == {"name": CALLED_TOOL, "arguments": CALL_ARGUMENTS}


def test_answers_the_hermes_call_from_its_tool_result(model_dir: Path, tokenizer: Tokenizer) -> None:
    messages = [ASK_WEATHER_HERMES, TOOL_CALL_TURN, TOOL_RESULT_TURN]
    assert generate(model_dir, tokenizer, render(model_dir, messages, [WEATHER_TOOL]))[0] == TOOL_RESULT_TEXT


def test_completion_of_hello_continues_the_plain_reply(model_dir: Path, tokenizer: Tokenizer) -> None:
    assert generate(model_dir, tokenizer, "<|begin_of_text|>Hello")[0] == PLAIN_TEXT.removeprefix("Hello")


@pytest.mark.parametrize(
    ("messages", "tools"),
    [
        ([{"role": "user", "content": "Say hello."}], None),
        ([ASK_WEATHER], [WEATHER_TOOL]),
        ([ASK_WEATHER, TOOL_CALL_TURN, TOOL_RESULT_TURN], [WEATHER_TOOL]),
        ([ASK_TO_PONDER], None),
        ([ASK_WEATHER_HERMES], [WEATHER_TOOL]),
        ([ASK_WEATHER_HERMES, TOOL_CALL_TURN, TOOL_RESULT_TURN], [WEATHER_TOOL]),
    ],
    ids=["plain", "tool-call", "tool-result", "reasoning", "hermes-call", "hermes-tool-result"],
)
def test_every_step_wins_by_a_margin_that_survives_sampling(
    model_dir: Path, tokenizer: Tokenizer, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> None:
    # 60 logits: at temperature 1 the runner-up gets under e**-60 of the winner's probability.
    assert generate(model_dir, tokenizer, render(model_dir, messages, tools))[1] > 60


# --- The forecast call: the example MCP server's tool (local/mcp_example.py) ------------------------------
FORECAST_TOOL_SPEC = {
    "type": "function",
    "function": {
        "name": FORECAST_TOOL,
        "description": "Return the weather outlook for a city, today and the next days (example data).",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
ASK_FORECAST = {"role": "user", "content": "What is the forecast for Paris?"}
FORECAST_CALL_TURN = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": FORECAST_TOOL, "arguments": json.dumps(FORECAST_ARGUMENTS)},
        }
    ],
}
FORECAST_RESULT_TURN = {"role": "tool", "tool_call_id": "call_2", "content": "day 1: sunny, high 21 °C"}


def test_calls_the_forecast_tool_when_asked_for_the_forecast(model_dir: Path, tokenizer: Tokenizer) -> None:
    prompt = render(model_dir, [ASK_FORECAST], tools=[WEATHER_TOOL, FORECAST_TOOL_SPEC])
    text, margin = generate(model_dir, tokenizer, prompt)
    assert text == FORECAST_CALL_TEXT
    assert json.loads(text) == {"name": "get_forecast", "parameters": {"city": "Paris", "days": 2}}
    assert margin > 60


def test_answers_the_forecast_call_from_its_tool_result(model_dir: Path, tokenizer: Tokenizer) -> None:
    messages = [ASK_FORECAST, FORECAST_CALL_TURN, FORECAST_RESULT_TURN]
    text, margin = generate(model_dir, tokenizer, render(model_dir, messages, [FORECAST_TOOL_SPEC]))
    assert (text, margin > 60) == (TOOL_RESULT_TEXT, True)


def test_the_weather_call_is_unchanged_when_the_forecast_tool_is_offered(
    model_dir: Path, tokenizer: Tokenizer
) -> None:
    prompt = render(model_dir, [ASK_WEATHER], tools=[WEATHER_TOOL, FORECAST_TOOL_SPEC])
    assert generate(model_dir, tokenizer, prompt)[0] == TOOL_CALL_TEXT
