"""The agent's doors: each a request parser and an encoder of the items of a turn (`agent_api.pipeline`).

`chat` is `POST /chat` (the project's own server-sent events); `openai` the OpenAI-compatible `/v1` routes.
A new door is a module here with a `Door` and its encoders, and one entry in `agent_api.app.create_app`.
"""
