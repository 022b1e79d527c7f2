"""``--format text``: compiler-style lines, the offending source line, the AWS error, the fix."""

from __future__ import annotations

from ..scan import ScanResult
from . import fix, predicts, summary

_MAX_CARETS = 60


def render(result: ScanResult, version: str) -> str:
    lines: list[str] = []
    for finding in result.findings:
        span = finding.span
        lines.append(f"{span.file}:{span.line}:{span.column}: {finding.rule} {finding.severity}: {finding.message}")
        source = result.text.line(span.file, span.line)
        if source is not None and source.strip():
            gutter = f"{span.line:>5} | "
            shown = source.expandtabs(1)
            lines.append(gutter + shown)
            end = span.end_column if span.end_line == span.line else len(shown) + 1
            width = max(1, min(end - span.column, len(shown) - span.column + 1, _MAX_CARETS))
            lines.append(" " * (len(gutter) - 2) + "| " + " " * (span.column - 1) + "^" * width)
        prediction = predicts(finding)
        if prediction:
            lines.append(f"      = prevents: {prediction}")
        remedy = fix(finding)
        if remedy:
            lines.append(f"      = fix: {remedy}")
        lines.append("")
    counts = summary(result)
    total = counts["error"] + counts["warning"] + counts["info"]
    noun = "file" if counts["files"] == 1 else "files"
    if total:
        lines.append(
            f"Found {total} finding{'s' if total != 1 else ''} ({counts['error']} error, {counts['warning']} warning, "
            f"{counts['info']} info) in {counts['files']} {noun}."
        )
    else:
        lines.append(f"No findings in {counts['files']} {noun}.")
    return "\n".join(lines) + "\n"
