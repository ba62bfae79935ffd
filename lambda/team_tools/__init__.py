"""Your team's own tools for the agent: Strands `@tool` functions, one or more per module of this folder.

Each module-level function decorated with Strands' `@tool` is a tool the agent may use, named by the
function (or by `@tool(name="...")`, a string literal). Enable it per environment by listing its name in
`agent.tools` in cdk.json, with the built-ins you keep (`"current_time,calculator,convert_units"`), then
deploy: the folder is bundled with the function, and any change to it deploys a new version. A name no tool
has fails synth, listing the tools there are. A package a tool needs goes in lambda/requirements.in, then
`make lock`. Only the modules of enabled tools are imported, when the function starts.

Write a tool like the built-ins (lambda/agent_api/tools.py): a docstring the model reads (what the tool does,
and each argument under `Args:`), typed arguments, and a `ValueError` with a plain message on bad input, which
the model gets as an error result it can correct. The model chooses the arguments, so check them as untrusted
input. `units.py` is an example. docs/tools.md says more.
"""
