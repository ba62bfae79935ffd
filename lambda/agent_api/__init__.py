"""The agent API: a Strands agent on a SageMaker endpoint, streamed over HTTP as server-sent events."""
