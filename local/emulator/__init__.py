"""An emulator of the AWS APIs the agent calls, which boto3's clients talk to as to AWS.

It serves ``sagemaker-runtime`` (InvokeEndpoint, InvokeEndpointWithResponseStream), ``sagemaker`` (the
inference-component calls) and ``bedrock-runtime`` (Converse, ConverseStream).

``python -m local.emulator --backend URL`` serves it; in Python, ``Emulator`` runs it from a thread.
"""

from local.emulator.backend import ConverseModel, Endpoint
from local.emulator.converse import ConverseCall
from local.emulator.faults import Faults
from local.emulator.invocations import Invocation
from local.emulator.server import Emulator

__all__ = ["ConverseCall", "ConverseModel", "Emulator", "Endpoint", "Faults", "Invocation"]
