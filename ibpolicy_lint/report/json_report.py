"""``--format json``: the report contract of DESIGN.md section 3."""

from __future__ import annotations

import json

from ..scan import ScanResult
from . import fix, predicts, summary


def render(result: ScanResult, version: str) -> str:
    findings = [
        {
            "rule": finding.rule,
            "severity": str(finding.severity),
            "message": finding.message,
            "file": finding.span.file,
            "line": finding.span.line,
            "column": finding.span.column,
            "end_line": finding.span.end_line,
            "end_column": finding.span.end_column,
            "resource": finding.resource,
            "predicts": predicts(finding),
            "fix": fix(finding),
        }
        for finding in result.findings
    ]
    report = {"tool": "ibpolicy-lint", "version": version, "findings": findings, "summary": summary(result)}
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
