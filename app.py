#!/usr/bin/env python3
"""CDK app entry point: ``cdk synth|deploy -c env=NAME`` (default ``dev``; ``all`` = every environment)."""

from __future__ import annotations

import sys

from aws_cdk import App

from stacks.agent_stack import SageMakerAgentStack
from stacks.config import DEFAULT_ENVIRONMENT, ConfigError, select_environments
from stacks.nag import add_nag_validation


def build_app(app: App, *, nag: bool = True) -> list[SageMakerAgentStack]:
    """Add one stack per selected environment to ``app``; with ``nag``, findings fail synthesis."""
    selection = app.node.try_get_context("env") or DEFAULT_ENVIRONMENT
    configs = select_environments(app.node.try_get_context("environments"), str(selection))
    stacks = [SageMakerAgentStack(app, config) for config in configs]
    if nag:
        add_nag_validation(app)
    return stacks


def main() -> None:
    """Synthesize the selected environments; a configuration error is one clear line, not a traceback."""
    app = App()
    try:
        build_app(app)
    except ConfigError as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
