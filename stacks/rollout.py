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
# SageMaker API reference), so the largest allowed share is used. How SageMaker rounds 50% of one copy is
# not documented; a step replaces at least one copy, as preflight counts (copy_batch).
COPY_BATCH_PERCENT = 50
_COPY_STEPS = -(-100 // COPY_BATCH_PERCENT)


def copy_batch(max_copies: int) -> int:
    """Return the copies one rolling step replaces at most (its share of the copies, rounded up)."""
    return -(-max_copies * COPY_BATCH_PERCENT // 100)


def component_rollout_timeout_seconds(endpoint: EndpointSettings) -> int:
    """Time allowed for a whole component rollout: each step starts, loads and bakes new copies."""
    step = (
        endpoint.model_download_timeout_seconds + endpoint.startup_health_check_timeout_seconds + BAKE_SECONDS
    )
    return max(_MIN_ROLLOUT_SECONDS, min(_MAX_ROLLOUT_SECONDS, _COPY_STEPS * step))


def component_rollout_instances(endpoint: EndpointSettings, copies_per_instance: int) -> int:
    """Instances a component may need at once: its copies at most, plus one rolling step's new copies."""
    return instances_for(endpoint.max_copies + copy_batch(endpoint.max_copies), copies_per_instance)
