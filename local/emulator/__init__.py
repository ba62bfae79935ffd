"""A SageMaker-runtime emulator: boto3's ``sagemaker-runtime`` client talks to it as to AWS.

``python -m local.emulator --backend URL`` serves it; in Python, ``Emulator`` runs it from a thread.
"""

from local.emulator.backend import Endpoint
from local.emulator.faults import Faults
from local.emulator.invocations import Invocation
from local.emulator.server import Emulator

__all__ = ["Emulator", "Endpoint", "Faults", "Invocation"]
