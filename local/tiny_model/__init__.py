"""A deterministic tiny Llama model built locally (tokenizer, config, hand-set weights), for vLLM CPU.

Its replies are fixed: no tools offered -> "Hello! I am a tiny test model."; tools offered -> a
`get_weather` call with `{"city": "Paris"}`; after a tool result -> "Sunny in Paris, 21 degrees";
"ponder" in the prompt -> "<think>Pondering deeply</think>Forty-two"; tools offered and "hermes" in the
prompt -> the same call in Hermes syntax, `<tool_call>{...}</tool_call>` (the `qwen3` profile's); tools
offered and "forecast" in the prompt -> a call of the example MCP server's `get_forecast` with
`{"city": "Paris", "days": 2}`. `local.tiny_model.script` holds them all, as token pieces and as whole texts.
Build it with `python -m local.tiny_model OUT_DIR`.
"""

from local.tiny_model.builder import MODEL_FILES, build

__all__ = ["MODEL_FILES", "build"]
