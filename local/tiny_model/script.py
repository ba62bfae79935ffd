"""The three fixed replies of the tiny model, as the token pieces it emits one by one.

Every piece is a single token of the tiny tokenizer and appears in exactly one reply, so a next-token
table (one column per current token) can spell each reply without ambiguity.
"""

from typing import Final

#: The assistant header ends with this text; its token is where the three replies branch.
REPLY_START: Final = "\n\n"

#: No tools offered: a plain answer.
PLAIN_REPLY: Final = ("Hello", "!", " I", " am", " a", " tiny", " test", " model", ".")

#: Tools offered, no tool result yet: a Llama 3.1 JSON tool call, as vLLM's `llama3_json` parser reads it.
TOOL_CALL_REPLY: Final = ('{"name": "', "get_weather", '", "parameters": ', '{"city": "', "Paris", '"}}')

#: A tool result is in the conversation: the answer that uses it.
TOOL_RESULT_REPLY: Final = ("Sunny", " in", " Paris", ",", " 21", " degrees")

#: Pieces of the tool call that byte-level pre-tokenization would split; they are added tokens.
JSON_PIECES: Final = ('{"name": "', "get_weather", '", "parameters": ', '{"city": "', '"}}')

#: Text found only when tools are offered (Llama 3.1 system header line `Environment: ipython`).
TOOLS_OFFERED_MARKER: Final = " ipython"

#: Text found only in a tool result's header (`<|start_header_id|>ipython<|end_header_id|>`).
TOOL_RESULT_MARKER: Final = "ipython"
