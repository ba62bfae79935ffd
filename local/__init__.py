"""Run the whole stack locally without AWS: tiny model, vLLM CPU, SageMaker-runtime emulator, agent API."""
