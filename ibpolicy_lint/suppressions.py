"""Suppressions: ``# ibpolicy-lint: ignore[IBP101] reason`` and CloudFormation resource ``Metadata``.

An inline suppression (a YAML ``#`` or HCL ``#``/``//`` comment) applies on the line of the finding
or on the first line of its resource. ``Metadata: {ibpolicy-lint: {ignore: [{rule: IBP101, reason: …}]}}``
applies to the resource's findings. A suppression that matches nothing, or gives no reason, is
itself reported (IBP001, info), so stale suppressions surface.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .catalogue import matches
from .findings import Finding, Severity
from .source import SourceText, Span

_INLINE = re.compile(r"(?:#|//)\s*ibpolicy-lint:\s*ignore\[(?P<rules>[^\]]*)\](?P<reason>.*)$", re.I)


@dataclass(frozen=True)
class Suppression:
    rules: tuple[str, ...]  # IDs or prefixes
    reason: str
    span: Span
    resource: str = ""  # set for resource Metadata: applies to that resource's findings


def inline_suppressions(text: SourceText) -> list[Suppression]:
    found: list[Suppression] = []
    for path in text.paths():
        for number, line in enumerate(text.lines(path) or (), start=1):
            if "ibpolicy-lint" not in line:
                continue
            match = _INLINE.search(line)
            if match is None:
                continue
            rules = tuple(rule.strip().upper() for rule in match.group("rules").split(",") if rule.strip())
            column = match.start() + 1
            found.append(Suppression(rules, match.group("reason").strip(), Span(path, number, column, number, len(line) + 1)))
    return found


def apply(findings: list[Finding], suppressions: list[Suppression], resource_lines: dict[tuple[str, str], int]) -> list[Finding]:
    """The findings no suppression covers, plus IBP001 for suppressions that are stale or give no reason."""
    used: set[Suppression] = set()
    kept: list[Finding] = []
    for finding in findings:
        covering = [s for s in suppressions if _covers(s, finding, resource_lines)]
        if covering:
            used.update(covering)
        else:
            kept.append(finding)
    for suppression in suppressions:
        rules = ", ".join(suppression.rules) or "(no rule)"
        if suppression not in used:
            kept.append(
                Finding(
                    "IBP001",
                    Severity.INFO,
                    f"The suppression of {rules} matches no finding here: remove it, or move it to the line of the finding "
                    "or of its resource.",
                    suppression.span,
                    suppression.resource,
                )
            )
        elif not suppression.reason:
            kept.append(
                Finding(
                    "IBP001",
                    Severity.INFO,
                    f"The suppression of {rules} gives no reason: say why the finding does not apply, after the brackets.",
                    suppression.span,
                    suppression.resource,
                )
            )
    return kept


def _covers(suppression: Suppression, finding: Finding, resource_lines: dict[tuple[str, str], int]) -> bool:
    if finding.rule == "IBP001" or not matches(finding.rule, suppression.rules):
        return False
    if suppression.span.file != finding.span.file:
        return False
    if suppression.resource:
        return suppression.resource == finding.resource
    if suppression.span.line == finding.span.line:
        return True
    return resource_lines.get((finding.span.file, finding.resource)) == suppression.span.line
