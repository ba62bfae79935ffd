"""What the doctor found: one finding per thing it looked at, in plain words, with what to do about it."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class Status(enum.Enum):
    """How a finding weighs on the verdict."""

    OK = "ok"
    WARN = "WARN"  # worth knowing or doing something about; the environment still serves
    FAIL = "FAIL"  # the environment does not work as deployed, or will not for long
    ERROR = "ERROR"  # the doctor could not read what it needed: health unknown


@dataclass(frozen=True)
class Finding:
    """What was looked at, what was found, the lines that show it, and what to do (``None``: nothing)."""

    status: Status
    subject: str
    summary: str
    action: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The counts of a report and what they add up to."""

    failures: int
    warnings: int
    errors: int

    @property
    def exit_status(self) -> int:
        """0 when healthy (warnings allowed), 1 when unhealthy or when health could not be established."""
        return 1 if self.failures or self.errors else 0

    def __str__(self) -> str:
        unread = f"{plural(self.errors, 'check')} could not read the account" if self.errors else ""
        problems = plural(self.failures, "problem") if self.failures else ""
        warnings = plural(self.warnings, "warning") if self.warnings else ""
        if self.failures:
            return "UNHEALTHY: " + ", ".join(part for part in (problems, warnings, unread) if part)
        if self.errors:
            return "UNKNOWN: " + ", ".join(part for part in (unread, warnings) if part)
        return f"HEALTHY, {warnings}" if warnings else "HEALTHY"


def report(findings: Iterable[Finding], out: Callable[[str], object] = print) -> Verdict:
    """Print each finding (evidence and action indented under it) and return the verdict."""
    counts = dict.fromkeys(Status, 0)
    for finding in findings:
        counts[finding.status] += 1
        out(f"{finding.status.value:<6}{finding.subject}: {finding.summary}")
        for line in finding.evidence:
            out(f"      | {line}")
        if finding.action is not None:
            out(f"      do: {finding.action}")
    return Verdict(counts[Status.FAIL], counts[Status.WARN], counts[Status.ERROR])


def when(moment: datetime) -> str:
    """Format a moment in UTC to the minute, as every line of the report shows it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(span: timedelta) -> str:
    """Format a span in the units that read well: ``45 s``, ``12 min``, ``3 h 05 min``, ``2 days 4 h``."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """Format a count with its noun agreeing: ``1 copy``, ``2 copies``."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"
