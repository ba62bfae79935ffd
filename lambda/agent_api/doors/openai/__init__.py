"""The OpenAI-compatible door: `POST /v1/chat/completions` and `GET /v1/models` (docs/agent-api.md).

The whole agent answers, tools included: its tool calls run here, server-side, and are never sent as
OpenAI `tool_calls` (which would ask the client to run them). They show in the extension field
`agent_event` of a stream chunk (`agent_events`, a list, of a whole completion), which OpenAI clients ignore.
Shapes follow the `openai` SDK's types (`openai.types.chat.ChatCompletion`, `ChatCompletionChunk`,
`openai.types.Model`); errors are OpenAI's `{"error": {"message", "type", "param", "code"}}` with the same
codes and statuses as `/chat`.

`completions_request` parses a request, `completions_encoder` encodes the turn's items as chunks or one
completion, `errors` is OpenAI's error object, `routes` the door and its routes.
"""
