"""Train the tiny model's byte-level BPE tokenizer on a small built-in corpus (no network)."""

from typing import Final

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from local.tiny_model.script import (
    ADDED_PIECES,
    FORECAST_CALL_REPLY,
    FORECAST_MARKER,
    HERMES_CALL_REPLY,
    HERMES_MARKER,
    JSON_PIECES,
    PLAIN_REPLY,
    PLAIN_TEXT,
    REASONING_MARKER,
    REASONING_REPLY,
    REPLY_START,
    TOOL_CALL_REPLY,
    TOOL_CALL_TEXT,
    TOOL_RESULT_MARKER,
    TOOL_RESULT_REPLY,
    TOOL_RESULT_TEXT,
    TOOLS_OFFERED_MARKER,
)

BOS: Final = "<|begin_of_text|>"
EOS: Final = "<|end_of_text|>"
EOT: Final = "<|eot_id|>"
EOM: Final = "<|eom_id|>"
PYTHON_TAG: Final = "<|python_tag|>"

#: The Llama 3.1 special tokens (the named ones; the reserved ones are not needed).
SPECIAL_TOKENS: Final = (
    BOS,
    EOS,
    "<|finetune_right_pad_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    EOM,
    EOT,
    PYTHON_TAG,
)

#: Total number of tokens allowed: the model's hidden size keeps five dimensions for its flags.
MAX_TOKENS: Final = 507

_BPE_VOCAB_SIZE: Final = 440

# Text the tokenizer learns its merges from: the Llama 3.1 prompt scaffolding, the replies and some
# plain English. Lines repeat so that every reply word and both markers become single tokens.
_CORPUS_LINES: Final = (
    "Environment: ipython",
    "Cutting Knowledge Date: December 2023",
    "Today Date: 26 Jul 2024",
    "system user assistant ipython",
    "You are a helpful assistant. Answer the question of the user.",
    "Given the following functions, please respond with a JSON for a function call with its proper "
    "arguments that best answers the given prompt.",
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its '
    "value}. Do not use variables.",
    "What is the weather like in Paris today? Say hello.",
    "Get the current weather for a city. The type is object with properties and required fields.",
    "What time is it? Compute the result of the expression with the calculator.",
    PLAIN_TEXT,
    TOOL_RESULT_TEXT,
    "The quick brown fox jumps over the lazy dog.",
    "This model is built locally for tests: its answers are fixed by hand-set weights.",
)


def _corpus() -> list[str]:
    """Return the training texts: the corpus lines, the reply pieces and the markers, repeated."""
    replies = [PLAIN_TEXT, TOOL_CALL_TEXT, TOOL_RESULT_TEXT]
    markers = [f"Environment:{TOOLS_OFFERED_MARKER}", TOOL_RESULT_MARKER, f"assistant{REPLY_START}"]
    # The markers and the reply start must win merges over ordinary words: weigh them more.
    return [*_CORPUS_LINES, *replies, *markers * 5] * 20


def train_tokenizer() -> Tokenizer:
    """Train and return the tokenizer; the same tokenizer every time."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_BPE_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=[AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer.add_tokens(
        [AddedToken(piece, special=False, normalized=False) for piece in (*JSON_PIECES, *ADDED_PIECES)]
    )
    bos_id = tokenizer.token_to_id(BOS)
    # Completions prompts get a BOS like Llama's tokenizer gives them; chat templates write their own.
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    _check(tokenizer)
    return tokenizer


def single_token_id(tokenizer: Tokenizer, text: str) -> int:
    """Return the id of the one token that `text` encodes to; `ValueError` if it is not one token."""
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    if len(ids) != 1:
        raise ValueError(f"{text!r} is not a single token of the tiny tokenizer (got {len(ids)} tokens)")
    return ids[0]


def _check(tokenizer: Tokenizer) -> None:
    """Fail if the trained vocabulary cannot carry the model's script."""
    if tokenizer.get_vocab_size() > MAX_TOKENS:
        raise ValueError(f"tiny tokenizer has {tokenizer.get_vocab_size()} tokens; at most {MAX_TOKENS} fit")
    pieces = [
        *PLAIN_REPLY,
        *TOOL_CALL_REPLY,
        *TOOL_RESULT_REPLY,
        *REASONING_REPLY,
        *HERMES_CALL_REPLY,
        *FORECAST_CALL_REPLY,
        REPLY_START,
    ]
    ids = [single_token_id(tokenizer, piece) for piece in pieces]
    if len(set(ids)) != len(ids):
        raise ValueError(
            "the replies of the tiny model share a token; the next-token table needs them unique"
        )
    for marker in (
        TOOLS_OFFERED_MARKER,
        TOOL_RESULT_MARKER,
        REASONING_MARKER,
        HERMES_MARKER,
        FORECAST_MARKER,
    ):
        single_token_id(tokenizer, marker)
