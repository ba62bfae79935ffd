"""Write the tiny model directory: tokenizer, configs and hand-set weights (no network)."""

import json
from importlib import resources
from pathlib import Path
from typing import Any, Final

from safetensors.numpy import save_file
from tokenizers import Tokenizer

from local.tiny_model import weights
from local.tiny_model.script import (
    FORECAST_CALL_REPLY,
    FORECAST_MARKER,
    HERMES_CALL_REPLY,
    HERMES_MARKER,
    PLAIN_REPLY,
    REASONING_MARKER,
    REASONING_REPLY,
    REPLY_START,
    TOOL_CALL_REPLY,
    TOOL_RESULT_MARKER,
    TOOL_RESULT_REPLY,
    TOOLS_OFFERED_MARKER,
)
from local.tiny_model.tokenizer import BOS, EOM, EOS, EOT, single_token_id, train_tokenizer

MAX_POSITION_EMBEDDINGS: Final = 8192

#: Files `build` writes; anything else in the output directory is left alone.
MODEL_FILES: Final = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
)


def chat_template() -> str:
    """Return the model's Llama 3.1 chat template (JSON tool calls)."""
    return resources.files("local.tiny_model").joinpath("chat_template.jinja").read_text(encoding="utf-8")


def script_of(tokenizer: Tokenizer) -> weights.Script:
    """Map the replies and markers of `local.tiny_model.script` to token ids of `tokenizer`."""

    def ids(pieces: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(single_token_id(tokenizer, piece) for piece in pieces)

    return weights.Script(
        reply_start=single_token_id(tokenizer, REPLY_START),
        plain_reply=ids(PLAIN_REPLY),
        tool_call_reply=ids(TOOL_CALL_REPLY),
        tool_result_reply=ids(TOOL_RESULT_REPLY),
        reasoning_reply=ids(REASONING_REPLY),
        hermes_call_reply=ids(HERMES_CALL_REPLY),
        forecast_call_reply=ids(FORECAST_CALL_REPLY),
        tools_offered_marker=single_token_id(tokenizer, TOOLS_OFFERED_MARKER),
        tool_result_marker=single_token_id(tokenizer, TOOL_RESULT_MARKER),
        reasoning_marker=single_token_id(tokenizer, REASONING_MARKER),
        hermes_marker=single_token_id(tokenizer, HERMES_MARKER),
        forecast_marker=single_token_id(tokenizer, FORECAST_MARKER),
        end_of_turn=_special_id(tokenizer, EOT),
        vocab_in_use=tokenizer.get_vocab_size(),
    )


def build(out_dir: Path) -> Path:
    """Build the tiny model into `out_dir` (created if missing) and return it; same bytes every time."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    script = script_of(tokenizer)
    special = {name: _special_id(tokenizer, name) for name in (BOS, EOS, EOT, EOM)}
    _write_json(out_dir / "config.json", _config(special))
    _write_json(
        out_dir / "generation_config.json",
        {
            "bos_token_id": special[BOS],
            "eos_token_id": [special[EOS], special[EOM], special[EOT]],
            "do_sample": False,
        },
    )
    tokenizer.save(str(out_dir / "tokenizer.json"), pretty=True)
    _write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": BOS,
            "eos_token": EOT,
            "pad_token": EOS,
            "clean_up_tokenization_spaces": False,
            "model_input_names": ["input_ids", "attention_mask"],
            "model_max_length": MAX_POSITION_EMBEDDINGS,
            "chat_template": chat_template(),
        },
    )
    _write_json(out_dir / "special_tokens_map.json", {"bos_token": BOS, "eos_token": EOT, "pad_token": EOS})
    save_file(weights.build_weights(script), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    return out_dir


def _config(special: dict[str, int]) -> dict[str, Any]:
    """Hugging Face `config.json` of the one-layer Llama."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": weights.HIDDEN_SIZE,
        "intermediate_size": weights.INTERMEDIATE_SIZE,
        "num_hidden_layers": 1,
        "num_attention_heads": weights.NUM_HEADS,
        "num_key_value_heads": weights.NUM_HEADS,
        "head_dim": weights.HEAD_DIM,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITION_EMBEDDINGS,
        "rms_norm_eps": weights.RMS_NORM_EPS,
        "rope_theta": weights.ROPE_THETA,
        "rope_parameters": {"rope_type": "default", "rope_theta": weights.ROPE_THETA},
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "vocab_size": weights.VOCAB_SIZE,
        "bos_token_id": special[BOS],
        "eos_token_id": [special[EOS], special[EOM], special[EOT]],
        # float32: the one-hot and flag arithmetic keeps full margins, and CPU backends support it.
        "torch_dtype": "float32",
        "dtype": "float32",
    }


def _special_id(tokenizer: Tokenizer, token: str) -> int:
    token_id = tokenizer.token_to_id(token)
    if token_id is None:
        raise ValueError(f"special token {token} is missing from the tiny tokenizer")
    return int(token_id)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
