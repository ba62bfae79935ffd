"""Every check in the order the report reads best, each one failing on its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial

from botocore.exceptions import BotoCoreError, ClientError

from ops.doctor.account import Account
from ops.doctor.alarms import check_alarms
from ops.doctor.findings import Finding, Status
from ops.doctor.logs import check_function, check_model_logs, model_log_group
from ops.doctor.scaling import check_scaling
from ops.doctor.serving import check_component, check_endpoint
from ops.doctor.stack import DeployedStack, read_stack
from stacks.config import EnvironmentConfig

_UNREADABLE = (
    'allow your credentials the read-only call named in the error (docs/deploy.md, "After a deploy", lists '
    "them), then run make doctor again"
)


def guarded(subject: str, check: Callable[[], Iterable[Finding]]) -> Iterator[Finding]:
    """Yield the check's findings, ending with an ERROR finding on an AWS error it did not expect.

    Access denied, throttling or an unreachable endpoint end that check alone, never with a traceback.
    """
    try:
        yield from check()
    except (ClientError, BotoCoreError) as error:
        yield Finding(Status.ERROR, subject, f"could not be read: {error}", _UNREADABLE)


def diagnose(config: EnvironmentConfig, account: Account) -> Iterator[Finding]:
    """Check the stack, then, when it has something deployed, everything it deployed."""
    stack = None
    try:
        finding, stack = read_stack(account, config)
        yield finding
    except (ClientError, BotoCoreError) as error:
        yield Finding(Status.ERROR, f"stack {config.stack_name}", f"could not be read: {error}", _UNREADABLE)
    if stack is not None and stack.runs:
        yield from _deployed(config, account, stack)


def _deployed(config: EnvironmentConfig, account: Account, stack: DeployedStack) -> Iterator[Finding]:
    """Check what the stack deployed: endpoint, component, model logs, function, scaling, alarms."""
    endpoint = stack.endpoint_name(config)
    component = stack.component_name(config)
    yield from guarded(f"endpoint {endpoint}", lambda: check_endpoint(account, config, endpoint))
    if component is not None:
        yield from guarded(
            f"inference component {component}", lambda: check_component(account, config, component)
        )
    yield from guarded("model logs", lambda: check_model_logs(account, model_log_group(endpoint, component)))
    function = stack.agent_function
    if function is None:
        yield Finding(
            Status.WARN,
            "agent function",
            "the stack has none (yet)",
            f"run make doctor ENV={config.name} again once the deploy has created it",
        )
    else:
        yield from guarded(f"function {function}", lambda: check_function(account, config, function))
    targets = stack.scalable_targets
    if not targets:
        yield Finding(
            Status.WARN,
            "scaling",
            "the stack registers no scalable target: capacity stays where the deploy set it",
            f"cdk deploy -c env={config.name}",
        )
    for target in targets:
        yield from guarded(
            f"scaling of {target.resource_id}", partial(check_scaling, account, config, target)
        )
    yield from guarded("alarms", lambda: check_alarms(account, config, stack))
