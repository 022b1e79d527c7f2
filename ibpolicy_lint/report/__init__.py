"""Report writers. Each takes the scan result and returns the report text."""

from __future__ import annotations

from collections.abc import Callable

from ..catalogue import load_catalogue
from ..findings import Finding
from ..scan import ScanResult

FORMATS = ("text", "json")


def render(result: ScanResult, format_name: str, version: str) -> str:
    writer: Callable[[ScanResult, str], str]
    if format_name == "json":
        from .json_report import render as writer
    else:
        from .text import render as writer
    return writer(result, version)


def predicts(finding: Finding) -> str:
    rule = load_catalogue().get(finding.rule)
    return finding.predicts or (rule.predicts if rule and rule.predicts else "")


def fix(finding: Finding) -> str:
    rule = load_catalogue().get(finding.rule)
    return finding.fix or (rule.fix.strip() if rule else "")


def summary(result: ScanResult) -> dict[str, int]:
    counts = {"files": result.files, "error": 0, "warning": 0, "info": 0}
    for finding in result.findings:
        counts[str(finding.severity)] += 1
    return counts
