"""How a model rollout replaces the endpoint's instances, and the instance quota a deploy and a rollout need.

Pure Python (no CDK): the inference construct renders it as the endpoint's ``DeploymentConfig`` and
``make preflight`` checks the quota it implies, so both always agree.

Without a deployment config, ``UpdateEndpoint`` is blue/green: it starts a full new fleet beside the old one.
A rolling update replaces ``ROLLING_BATCH_INSTANCES`` at a time instead, but its batch "must be between 5% to
50% of the variant's total instance count" (RollingUpdatePolicy, SageMaker API reference), so a variant that
may run one instance cannot roll and keeps blue/green (all at once). Both roll back automatically when one of
the endpoint's error alarms fires.
"""

from __future__ import annotations

from stacks.config import EndpointSettings, instances_for

ROLLING_BATCH_INSTANCES = 1
# How long SageMaker watches the alarms on each new batch (or the new fleet) before going on.
BAKE_SECONDS = 300
# RollingUpdatePolicy/BlueGreenUpdatePolicy MaximumExecutionTimeoutInSeconds: 600..28800.
_MIN_ROLLOUT_SECONDS, _MAX_ROLLOUT_SECONDS = 600, 28800


def is_rolling(endpoint: EndpointSettings) -> bool:
    """Whether rollouts replace instances in batches (at least two instances) or blue/green all at once."""
    return endpoint.min_instances >= 2 * ROLLING_BATCH_INSTANCES


def rollout_instances(endpoint: EndpointSettings) -> int:
    """Instances of the endpoint's type a rollout may run at once, at the most autoscaling can reach."""
    if is_rolling(endpoint):
        return endpoint.max_instances + ROLLING_BATCH_INSTANCES
    return 2 * endpoint.max_instances


def rollout_timeout_seconds(endpoint: EndpointSettings) -> int:
    """Time allowed for a whole rollout: each step downloads, starts and bakes new instances."""
    step = (
        endpoint.model_download_timeout_seconds + endpoint.startup_health_check_timeout_seconds + BAKE_SECONDS
    )
    steps = -(-endpoint.max_instances // ROLLING_BATCH_INSTANCES) if is_rolling(endpoint) else 1
    return max(_MIN_ROLLOUT_SECONDS, min(_MAX_ROLLOUT_SECONDS, steps * step))


# --- Inference-component mode -----------------------------------------------------------------------------
# A component's rolling update replaces a share of its copies per step; SageMaker requires the batch to be
# "between 5% to 50% of the copy count of the inference component" (InferenceComponentRollingUpdatePolicy,
# SageMaker API reference), so the largest allowed share is used, and only where every step replaces at
# least one copy: at two copies or more. A component that may run one copy, or none (scaled to zero), has
# no such batch; it is updated without a deployment config, blue/green: SageMaker starts the new copies
# beside the old ones, then removes the old ("Traditionally, SageMaker AI inference has supported the
# blue/green deployment pattern for updating inference components", AWS Machine Learning Blog, "Enhance
# deployment guardrails with inference component rolling updates", 2025-03-26).
COPY_BATCH_PERCENT = 50
# The fewest copies of which COPY_BATCH_PERCENT is at least one whole copy.
MIN_ROLLING_COPIES = -(-100 // COPY_BATCH_PERCENT)
# Rolling steps to replace every copy.
_COPY_STEPS = -(-100 // COPY_BATCH_PERCENT)


def is_rolling_component(endpoint: EndpointSettings) -> bool:
    """Whether component updates roll in batches (always two copies or more) or go blue/green."""
    return endpoint.min_copies >= MIN_ROLLING_COPIES


def copy_batch(max_copies: int) -> int:
    """Return the copies one rolling step replaces at most (its share of the copies, rounded up)."""
    return -(-max_copies * COPY_BATCH_PERCENT // 100)


def component_rollout_timeout_seconds(endpoint: EndpointSettings) -> int:
    """Time allowed for a whole component rollout: each step starts, loads and bakes new copies."""
    step = (
        endpoint.model_download_timeout_seconds + endpoint.startup_health_check_timeout_seconds + BAKE_SECONDS
    )
    return max(_MIN_ROLLOUT_SECONDS, min(_MAX_ROLLOUT_SECONDS, _COPY_STEPS * step))


def component_rollout_copies(endpoint: EndpointSettings) -> int:
    """Return the copies a component may run at once: its most, plus a rolling step's or a new fleet's."""
    new_copies = copy_batch(endpoint.max_copies) if is_rolling_component(endpoint) else endpoint.max_copies
    return endpoint.max_copies + new_copies


def component_rollout_instances(endpoint: EndpointSettings, copies_per_instance: int) -> int:
    """Instances a component may need at once (``component_rollout_copies``)."""
    return instances_for(component_rollout_copies(endpoint), copies_per_instance)
