"""The SageMaker GPU instance types this app can deploy to, with their NVIDIA GPU count."""

from __future__ import annotations

# GPU count per SageMaker hosting instance type (from the SageMaker instance-type pages). The tensor-parallel
# degree defaults to this count and must divide it, so an instance missing here cannot be validated.
GPU_COUNT: dict[str, int] = {
    **{f"ml.g4dn.{size}": 1 for size in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")},
    "ml.g4dn.12xlarge": 4,
    **{
        f"ml.{family}.{size}": 1
        for family in ("g5", "g6", "g6e")
        for size in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")
    },
    **{f"ml.{family}.{size}": 4 for family in ("g5", "g6", "g6e") for size in ("12xlarge", "24xlarge")},
    **{f"ml.{family}.48xlarge": 8 for family in ("g5", "g6", "g6e")},
    "ml.p4d.24xlarge": 8,
    "ml.p4de.24xlarge": 8,
    "ml.p5.48xlarge": 8,
    "ml.p5e.48xlarge": 8,
    "ml.p5en.48xlarge": 8,
}
