"""Report writers. Each takes the scan result and returns the report text."""

from __future__ import annotations

from collections.abc import Callable

from ..catalogue import load_catalogue
from ..findings import Finding
from ..scan import ScanResult

FORMATS = ("text", "json", "sarif", "github", "junit")


def render(result: ScanResult, format_name: str, version: str) -> str:
    writer: Callable[[ScanResult, str], str]
    if format_name == "json":
        from .json_report import render as writer
    elif format_name == "sarif":
        from .sarif import render as writer
    elif format_name == "github":
        from .github import render as writer
    elif format_name == "junit":
        from .junit import render as writer
    else:
        from .text import render as writer
    return writer(result, version)


def predicts(finding: Finding) -> str:
    rule = load_catalogue().get(finding.rule)
    return finding.predicts or (rule.predicts if rule and rule.predicts else "")


def fix(finding: Finding) -> str:
    rule = load_catalogue().get(finding.rule)
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
