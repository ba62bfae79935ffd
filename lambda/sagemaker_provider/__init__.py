"""A Strands model provider for SageMaker endpoints that reads every common serving format.

``from sagemaker_provider import SageMakerModel`` gives the provider. Importing the package itself is cheap:
the provider class (and with it Strands and boto3) is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import SageMakerModel

__all__ = ["SageMakerModel"]


def __getattr__(name: str) -> Any:
    if name == "SageMakerModel":
        from .model import SageMakerModel

        return SageMakerModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
