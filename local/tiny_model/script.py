"""The six fixed replies of the tiny model, as the token pieces it emits one by one.

Every piece is a single token of the tiny tokenizer and appears in exactly one reply, so a next-token
table (one column per current token) can spell each reply without ambiguity.
"""

import json
from typing import Any, Final

#: The assistant header ends with this text; its token is where the six replies branch.
REPLY_START: Final = "\n\n"

#: No tools offered: a plain answer.
PLAIN_REPLY: Final = ("Hello", "!", " I", " am", " a", " tiny", " test", " model", ".")

#: Tools offered, no tool result yet: a Llama 3.1 JSON tool call, as vLLM's `llama3_json` parser reads it.
TOOL_CALL_REPLY: Final = ('{"name": "', "get_weather", '", "parameters": ', '{"city": "', "Paris", '"}}')

#: A tool result is in the conversation: the answer that uses it.
TOOL_RESULT_REPLY: Final = ("Sunny", " in", " Paris", ",", " 21", " degrees")

#: The prompt holds `REASONING_MARKER`: reasoning in `<think>` tags, then the answer, as vLLM's `qwen3`
#: reasoning parser splits it.
REASONING_REPLY: Final = ("<think>", "Pondering", " deeply", "</think>", "Forty", "-two")

#: Tools offered and the prompt holds `HERMES_MARKER`: a Hermes/Qwen tool call, as the `hermes` tool parser
#: of the `qwen3` model profile reads it (the `llama3_json` parser of the default profile leaves it as text).
HERMES_CALL_REPLY: Final = (
    "<tool_call>",
    '{"name": "get_weather", ',
    '"arguments": {"city": "Paris"}}',
    "</tool_call>",
)

#: Tools offered and the prompt holds `FORECAST_MARKER`: a Llama 3.1 JSON call of the example MCP server's
#: tool (local/mcp_example.py), so that an MCP round trip runs on the tiny model.
FORECAST_CALL_REPLY: Final = ('{"name": "get_forecast", ', '"parameters": {"city": "Paris", "days": 2}}')

#: Pieces of the tool call that byte-level pre-tokenization would split; they are added tokens.
JSON_PIECES: Final = ('{"name": "', "get_weather", '", "parameters": ', '{"city": "', '"}}')

#: Text in a user prompt that asks for the reasoning reply.
REASONING_MARKER: Final = " ponder"

#: Text in a user prompt that asks for the Hermes tool call (when tools are offered).
HERMES_MARKER: Final = " hermes"

#: Text in a user prompt that asks for the forecast call (when tools are offered).
FORECAST_MARKER: Final = " forecast"

#: Pieces of the reasoning, Hermes and forecast replies, and their markers: added tokens, so that the trained
#: vocabulary (and with it every token id of the other replies) stays as it was.
ADDED_PIECES: Final = (
    *REASONING_REPLY,
    *HERMES_CALL_REPLY,
    REASONING_MARKER,
    HERMES_MARKER,
    *FORECAST_CALL_REPLY,
    FORECAST_MARKER,
)

#: Text found only when tools are offered (Llama 3.1 system header line `Environment: ipython`).
TOOLS_OFFERED_MARKER: Final = " ipython"

#: Text found only in a tool result's header (`<|start_header_id|>ipython<|end_header_id|>`).
TOOL_RESULT_MARKER: Final = "ipython"

#: The replies as whole texts, as a client reads them: tests import these rather than restate them.
PLAIN_TEXT: Final = "".join(PLAIN_REPLY)
TOOL_CALL_TEXT: Final = "".join(TOOL_CALL_REPLY)
TOOL_RESULT_TEXT: Final = "".join(TOOL_RESULT_REPLY)
REASONING_TEXT: Final = "".join(REASONING_REPLY)
HERMES_CALL_TEXT: Final = "".join(HERMES_CALL_REPLY)

#: The reasoning reply as a reasoning parser splits it: the thought inside `<think>`, then the answer.
THOUGHT_TEXT: Final = "".join(REASONING_REPLY[1 : REASONING_REPLY.index("</think>")])
REASONING_ANSWER_TEXT: Final = "".join(REASONING_REPLY[REASONING_REPLY.index("</think>") + 1 :])

FORECAST_CALL_TEXT: Final = "".join(FORECAST_CALL_REPLY)

_CALL: Final[dict[str, Any]] = json.loads(TOOL_CALL_TEXT)
#: The tool both tool-call replies call, and its arguments.
CALLED_TOOL: Final[str] = _CALL["name"]
CALL_ARGUMENTS: Final[dict[str, Any]] = _CALL["parameters"]

_FORECAST_CALL: Final[dict[str, Any]] = json.loads(FORECAST_CALL_TEXT)
#: The example MCP server's tool the forecast reply calls, and its arguments.
FORECAST_TOOL: Final[str] = _FORECAST_CALL["name"]
FORECAST_ARGUMENTS: Final[dict[str, Any]] = _FORECAST_CALL["parameters"]
