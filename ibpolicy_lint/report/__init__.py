"""Report writers. Each takes the scan result and returns the report text.

This package imports nothing heavy: the command line reads ``FORMATS`` to build its parser.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..findings import Finding
    from ..scan import ScanResult

# --format value -> the module (in this package) whose render(result, version) writes it
_WRITERS = {"text": "text", "json": "json_report", "sarif": "sarif", "github": "github", "junit": "junit"}
FORMATS = tuple(_WRITERS)


def render(result: ScanResult, format_name: str, version: str) -> str:
    return import_module(f".{_WRITERS[format_name]}", __name__).render(result, version)


def predicts(finding: Finding) -> str:
    from ..catalogue import rule_by_id

    rule = rule_by_id(finding.rule)
    return finding.predicts or (rule.predicts if rule and rule.predicts else "")


def fix(finding: Finding) -> str:
    from ..catalogue import rule_by_id

    rule = rule_by_id(finding.rule)
    return finding.fix or (rule.fix.strip() if rule else "")


def explained(finding: Finding) -> str:
    """The message, then "Prevents: …" and "Fix: …" lines when there is something to say."""
    lines = [finding.message]
    prediction = predicts(finding)
    if prediction:
        lines.append(f"Prevents: {prediction}")
    remedy = fix(finding)
    if remedy:
        lines.append(f"Fix: {remedy}")
    return "\n".join(lines)


def summary(result: ScanResult) -> dict[str, int]:
    counts = {"files": result.files, "error": 0, "warning": 0, "info": 0}
    for finding in result.findings:
        counts[str(finding.severity)] += 1
    return counts
