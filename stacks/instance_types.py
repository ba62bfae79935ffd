"""The SageMaker GPU instance types this app can deploy to, with their NVIDIA GPU count and host memory."""

from __future__ import annotations

_SIZES = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")

# GPU count per SageMaker hosting instance type (from the SageMaker instance-type pages). The tensor-parallel
# degree defaults to this count and must divide it, so an instance missing here cannot be validated.
GPU_COUNT: dict[str, int] = {
    **{f"ml.g4dn.{size}": 1 for size in _SIZES},
    "ml.g4dn.12xlarge": 4,
    **{f"ml.{family}.{size}": 1 for family in ("g5", "g6", "g6e") for size in _SIZES},
    **{f"ml.{family}.{size}": 4 for family in ("g5", "g6", "g6e") for size in ("12xlarge", "24xlarge")},
    **{f"ml.{family}.48xlarge": 8 for family in ("g5", "g6", "g6e")},
    "ml.p4d.24xlarge": 8,
    "ml.p4de.24xlarge": 8,
    "ml.p5.48xlarge": 8,
    "ml.p5e.48xlarge": 8,
    "ml.p5en.48xlarge": 8,
}

# Host memory (GiB) per instance type, from the "Accelerated Computing" table of Amazon SageMaker AI pricing
# (https://aws.amazon.com/sagemaker/ai/pricing/, the same sizes as the EC2 G4dn/G5/G6/G6e/P4/P5 pages). An
# inference component reserves part of it (MinMemoryRequiredInMb, required by CreateInferenceComponent's
# ComputeResourceRequirements), so it is needed for every type GPU_COUNT accepts.
_G_MEMORY = {"xlarge": 16, "2xlarge": 32, "4xlarge": 64, "8xlarge": 128, "12xlarge": 192, "16xlarge": 256}
MEMORY_GIB: dict[str, int] = {
    **{f"ml.g4dn.{size}": gib for size, gib in _G_MEMORY.items()},
    **{f"ml.{family}.{size}": gib for family in ("g5", "g6") for size, gib in _G_MEMORY.items()},
    **{f"ml.{family}.24xlarge": 384 for family in ("g5", "g6")},
    **{f"ml.{family}.48xlarge": 768 for family in ("g5", "g6")},
    # G6e instances have twice the memory of the same G6 size.
    **{f"ml.g6e.{size}": 2 * gib for size, gib in _G_MEMORY.items()},
    "ml.g6e.24xlarge": 768,
    "ml.g6e.48xlarge": 1536,
    "ml.p4d.24xlarge": 1152,
    "ml.p4de.24xlarge": 1152,
    "ml.p5.48xlarge": 2048,
    "ml.p5e.48xlarge": 2048,
    "ml.p5en.48xlarge": 2048,
}
