"""Hand-set weights of the tiny one-layer Llama model, so that its replies are fixed.

How the model works (one decoder layer, MLP zero):
- The embedding is one-hot: the residual stream holds the current token id (dimension = id).
- Attention head 0 looks for the "tools offered" marker token, head 1 for the "tool result" marker token,
  head 2 for the "reasoning" marker, head 3 for the "Hermes call" marker, head 4 for the "forecast"
  marker. Their query is the same for every token and their key is non-zero only on the marker, so a head
  attends to the marker wherever it is (and uniformly over zero values when it is absent). Query and key
  sit on the last dimension of the head, whose rotary frequency is the lowest, so rotary embedding leaves
  the scores position-independent over the context lengths used. Each head writes a flag dimension.
- The output head is a next-token table: the column of each reply token scores its successor, the last
  token of a reply and every other token score `<|eot_id|>`, and the reply-start token scores the first
  token of each reply, with the flags tipping the choice. Margins are tens of logits, so sampling at any
  usual temperature picks the same token as greedy decoding.
"""

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

HIDDEN_SIZE: Final = 512
VOCAB_SIZE: Final = 512
NUM_HEADS: Final = 8
HEAD_DIM: Final = HIDDEN_SIZE // NUM_HEADS
INTERMEDIATE_SIZE: Final = 128
ROPE_THETA: Final = 500000.0
RMS_NORM_EPS: Final = 1e-5

#: Residual dimensions of the five flags; token ids stay below them.
FORECAST_FLAG: Final = HIDDEN_SIZE - 5
REASONING_FLAG: Final = HIDDEN_SIZE - 4
HERMES_FLAG: Final = HIDDEN_SIZE - 3
TOOLS_OFFERED_FLAG: Final = HIDDEN_SIZE - 2
TOOL_RESULT_FLAG: Final = HIDDEN_SIZE - 1

# Attention score of a marker token, before softmax: e**64 outweighs any context length.
_MARKER_SCORE: Final = 64.0
# Logit scale of the output head (times the normalized one-hot, about 13 to 23).
_LOGIT_SCALE: Final = 25.0
# Output-head weights in units of the next-token weight (1). See `_output_head` for the margins.
_BRANCH: Final = 0.6
_PUSH: Final = 0.7
_BLOCK: Final = -0.5

Weights = dict[str, NDArray[np.float32]]


@dataclass(frozen=True)
class Script:
    """Token ids the weights are built from (all below `TOOLS_OFFERED_FLAG`)."""

    reply_start: int
    plain_reply: tuple[int, ...]
    tool_call_reply: tuple[int, ...]
    tool_result_reply: tuple[int, ...]
    reasoning_reply: tuple[int, ...]
    hermes_call_reply: tuple[int, ...]
    forecast_call_reply: tuple[int, ...]
    tools_offered_marker: int
    tool_result_marker: int
    reasoning_marker: int
    hermes_marker: int
    forecast_marker: int
    end_of_turn: int
    vocab_in_use: int


def build_weights(script: Script) -> Weights:
    """Return the model's tensors, named as in Hugging Face's `LlamaForCausalLM`."""
    if script.vocab_in_use > FORECAST_FLAG:
        raise ValueError(f"{script.vocab_in_use} tokens leave no room for the flags in {HIDDEN_SIZE} dims")
    sqrt_hidden = float(np.sqrt(HIDDEN_SIZE))  # what RMSNorm turns a unit one-hot into
    q = np.zeros((NUM_HEADS * HEAD_DIM, HIDDEN_SIZE), np.float32)
    k = np.zeros_like(q)
    v = np.zeros_like(q)
    o = np.zeros((HIDDEN_SIZE, NUM_HEADS * HEAD_DIM), np.float32)
    # Score = q.k / sqrt(head_dim) = (a * sqrt_hidden) * (a * sqrt_hidden) / sqrt(head_dim).
    qk_weight = float(np.sqrt(_MARKER_SCORE * np.sqrt(HEAD_DIM))) / sqrt_hidden
    for head, (marker, flag) in enumerate(
        (
            (script.tools_offered_marker, TOOLS_OFFERED_FLAG),
            (script.tool_result_marker, TOOL_RESULT_FLAG),
            (script.reasoning_marker, REASONING_FLAG),
            (script.hermes_marker, HERMES_FLAG),
            (script.forecast_marker, FORECAST_FLAG),
        )
    ):
        rope_free_dim = head * HEAD_DIM + HEAD_DIM - 1
        value_dim = head * HEAD_DIM
        q[rope_free_dim, :] = qk_weight
        k[rope_free_dim, marker] = qk_weight
        v[value_dim, marker] = 1.0 / sqrt_hidden  # the flag reaches 1, like the one-hot
        o[flag, value_dim] = 1.0
    embed = np.zeros((VOCAB_SIZE, HIDDEN_SIZE), np.float32)
    embed[np.arange(VOCAB_SIZE), np.arange(VOCAB_SIZE)] = 1.0
    ones = np.ones(HIDDEN_SIZE, np.float32)
    return {
        "model.embed_tokens.weight": embed,
        "model.layers.0.input_layernorm.weight": ones,
        "model.layers.0.self_attn.q_proj.weight": q,
        "model.layers.0.self_attn.k_proj.weight": k,
        "model.layers.0.self_attn.v_proj.weight": v,
        "model.layers.0.self_attn.o_proj.weight": o,
        "model.layers.0.post_attention_layernorm.weight": ones.copy(),
        "model.layers.0.mlp.gate_proj.weight": np.zeros((INTERMEDIATE_SIZE, HIDDEN_SIZE), np.float32),
        "model.layers.0.mlp.up_proj.weight": np.zeros((INTERMEDIATE_SIZE, HIDDEN_SIZE), np.float32),
        "model.layers.0.mlp.down_proj.weight": np.zeros((HIDDEN_SIZE, INTERMEDIATE_SIZE), np.float32),
        "model.norm.weight": ones.copy(),
        "lm_head.weight": _output_head(script),
    }


def _output_head(script: Script) -> NDArray[np.float32]:
    """Next-token table plus the flag-driven choice of reply at the reply-start token.

    Logits in units of the next-token weight, A/B/C/D/E = tools-offered/tool-result/reasoning/Hermes/forecast
    flags (0 or 1). At the reply start: plain = 1, tool call = 0.6 + 0.7A - 0.5(B + C + D + E),
    tool result = 0.6 + 0.7B, reasoning = 0.6 + 0.7C, Hermes call = 0.6 + 0.7D - 0.7B, forecast call =
    0.6 + 0.7E - 0.7B. Elsewhere the successor = 1 and the flags add at most 0.7 to any token. In each case a
    conversation can make (no flag; A; A and B; C, with or without A; A and D; A, B and D; A and E; A, B and
    E), the winner leads by at least 0.3.
    """
    head = np.zeros((VOCAB_SIZE, HIDDEN_SIZE), np.float32)
    head[script.end_of_turn, : script.vocab_in_use] = 1.0  # any token without a successor ends the turn
    replies = (
        script.plain_reply,
        script.tool_call_reply,
        script.tool_result_reply,
        script.reasoning_reply,
        script.hermes_call_reply,
        script.forecast_call_reply,
    )
    for reply in replies:
        for current, successor in zip(reply, [*reply[1:], script.end_of_turn], strict=True):
            head[:, current] = 0.0
            head[successor, current] = 1.0
    start = script.reply_start
    head[:, start] = 0.0
    head[script.plain_reply[0], start] = 1.0
    for reply in replies[1:]:
        head[reply[0], start] = _BRANCH
    call, result = script.tool_call_reply[0], script.tool_result_reply[0]
    reasoning, hermes = script.reasoning_reply[0], script.hermes_call_reply[0]
    forecast = script.forecast_call_reply[0]
    head[call, TOOLS_OFFERED_FLAG] = _PUSH
    head[call, [TOOL_RESULT_FLAG, REASONING_FLAG, HERMES_FLAG, FORECAST_FLAG]] = _BLOCK
    head[result, TOOL_RESULT_FLAG] = _PUSH
    head[reasoning, REASONING_FLAG] = _PUSH
    head[hermes, HERMES_FLAG] = _PUSH
    head[hermes, TOOL_RESULT_FLAG] = -_PUSH
    head[forecast, FORECAST_FLAG] = _PUSH
    head[forecast, TOOL_RESULT_FLAG] = -_PUSH
    return head * _LOGIT_SCALE
