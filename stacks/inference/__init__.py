"""The SageMaker inference endpoint."""
