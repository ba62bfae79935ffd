"""cfn-lint over every synthesized template: zero errors (warnings are CDK's own DependsOn style)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import lint_file

from tests.infra.infra_support import Synthesized

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_template_has_no_cfn_lint_errors(synthesized: Synthesized, environment: str) -> None:
    path = Path(synthesized.outdir) / f"SageMakerAgent-{environment}.template.json"
    errors = [str(match) for match in lint_file(path) if match.rule.id.startswith("E")]
    assert errors == []
