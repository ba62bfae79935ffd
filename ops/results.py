"""A check's outcome and how the operator tools print them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One check's outcome: what was checked, what is wrong (``None`` if nothing) and the fixing command.

    A ``warning`` is a problem worth fixing that does not stop a deploy: it is printed, and the check passes.
    """

    name: str
    problem: str | None = None
    fix: str | None = None
    warning: bool = False

    @property
    def ok(self) -> bool:
        """Whether the check found nothing wrong (a warning is not ok, but does not fail the run)."""
        return self.problem is None


def report(results: Iterable[Result], out: Callable[[str], object] = print) -> bool:
    """Print each result (a failure or warning with its fix, if there is one); whether all passed."""
    passed = True
    for result in results:
        if result.problem is None:
            out(f"ok    {result.name}")
            continue
        passed = passed and result.warning
        out(f"{'WARN' if result.warning else 'FAIL'}  {result.name}: {result.problem}")
        if result.fix is not None:
            out(f"      fix: {result.fix}")
    return passed
