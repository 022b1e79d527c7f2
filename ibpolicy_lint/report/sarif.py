"""``--format sarif``: a SARIF 2.1.0 log for code-scanning services (GitHub code scanning, Azure DevOps, IDEs).

One run. ``tool.driver.rules`` describes every rule in the catalogue, whether or not it fired, so a
viewer can show a rule's help for any result and a service can tell a rule that was checked and found
nothing from one it never heard of.

Each result carries ``partialFingerprints["ibpolicyLint/v1"]``, which lets a service recognise the same
finding from one run to the next. It is a SHA-256 over the rule, the file, the trimmed text of the
flagged source line, the resource and the message, deliberately *without* the line number, so that
editing lines above a finding does not turn it into a new alert. Line and column references inside the
message ("parameter X (line 4)") are masked before hashing for the same reason. When two findings
would share a hash (the same line text repeated in one file), a ``:N`` occurrence counter, in report
order, keeps them apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import quote

from .. import HOMEPAGE, rule_url
from ..catalogue import Rule, load_catalogue
from ..findings import Finding, Severity
from ..scan import ScanResult
from . import explained

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "ibpolicyLint/v1"
SOURCE_ROOT = "%SRCROOT%"

_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
_LINE_REFERENCE = re.compile(r"\b(lines?|columns?) \d+(?: and \d+)?")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")


def render(result: ScanResult, version: str) -> str:
    descriptors, index = _rules(result)
    run = {
        "tool": {
            "driver": {
                "name": "ibpolicy-lint",
                "version": version,
                "semanticVersion": version,
                "informationUri": HOMEPAGE,
                "rules": descriptors,
            }
        },
        "originalUriBaseIds": {
            SOURCE_ROOT: {
                "description": {"text": "The directory ibpolicy-lint ran in; every file path in this log is relative to it."}
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": _results(result, index),
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def level(severity: Severity | str) -> str:
    """The SARIF level of one of our severities (``info`` is SARIF's ``note``)."""
    return _LEVELS[str(severity)]


def artifact_uri(path: str) -> str:
    """A report path (relative, ``/`` separators) as a URI reference: spaces, ``%``, ``#``, ``:`` etc. percent-encoded."""
    if path.startswith("/"):
        return "file://" + quote(path, safe="/")
    if _WINDOWS_DRIVE.match(path):
        return "file:///" + path[:2] + quote(path[2:], safe="/")
    return quote(path, safe="/")


def fingerprint(finding: Finding, source_line: str | None) -> str:
    """The line-number-free identity of a finding (without the occurrence counter)."""
    parts = (
        finding.rule,
        finding.span.file,
        (source_line or "").strip(),
        finding.resource,
        _LINE_REFERENCE.sub(r"\1 #", finding.message),
    )
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def camel_case(title: str) -> str:
    """``"Recipe volume encrypted with an AWS managed key"`` -> ``"RecipeVolumeEncryptedWithAnAWSManagedKey"``."""
    return "".join(word[0].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))


def _rules(result: ScanResult) -> tuple[list[dict], dict[str, int]]:
    catalogue = load_catalogue()
    descriptors = [_descriptor(rule) for rule in catalogue.values()]
    # A finding from a rule the catalogue lacks would be a bug elsewhere; describe it anyway so the log stays valid.
    for rule_id in sorted({finding.rule for finding in result.findings} - set(catalogue)):
        descriptors.append(_unknown_descriptor(rule_id))
    return descriptors, {descriptor["id"]: position for position, descriptor in enumerate(descriptors)}


def _descriptor(rule: Rule) -> dict:
    summary = " ".join(rule.summary.split())
    rationale = " ".join(rule.rationale.split())
    remedy = " ".join(rule.fix.split())
    url = rule_url(rule.id)
    text = [summary]
    markdown = [summary]
    if rule.predicts:
        text.append(f"Prevents: {rule.predicts}")
        markdown.append(f"**Prevents:** {rule.predicts}")
    text += [f"Why: {rationale}", f"Fix: {remedy}", f"Documentation: {url}"]
    markdown += [f"**Why:** {rationale}", f"**Fix:** {remedy}", f"[{rule.id} in the rule catalogue]({url})"]
    return {
        "id": rule.id,
        "name": camel_case(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": summary},
        "help": {"text": "\n\n".join(text), "markdown": "\n\n".join(markdown)},
        "helpUri": url,
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {"tags": _tags(rule.id)},
    }


def _unknown_descriptor(rule_id: str) -> dict:
    return {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": rule_id},
        "fullDescription": {"text": rule_id},
        "help": {"text": rule_id},
        "helpUri": rule_url(rule_id),
        "properties": {"tags": _tags(rule_id)},
    }


def _tags(rule_id: str) -> list[str]:
    if rule_id.startswith("IBP0"):
        return ["ibpolicy-lint", "parse"]
    tags = ["ibpolicy-lint", "aws", "ec2-image-builder", "cross-account", "kms"]
    if rule_id.startswith("IBP9"):
        tags.append("unresolved")
    return tags


def _results(result: ScanResult, index: dict[str, int]) -> list[dict]:
    results: list[dict] = []
    seen: dict[str, int] = {}
    for finding in result.findings:
        span = finding.span
        digest = fingerprint(finding, result.text.line(span.file, span.line))
        seen[digest] = seen.get(digest, 0) + 1
        location: dict = {
            "physicalLocation": {
                "artifactLocation": _artifact_location(span.file),
                "region": {
                    "startLine": span.line,
                    "startColumn": span.column,
                    "endLine": span.end_line,
                    "endColumn": span.end_column,
                },
            }
        }
        if finding.resource:
            location["logicalLocations"] = [{"name": finding.resource, "kind": "resource"}]
        results.append(
            {
                "ruleId": finding.rule,
                "ruleIndex": index[finding.rule],
                "level": level(finding.severity),
                "message": {"text": explained(finding)},
                "locations": [location],
                "partialFingerprints": {FINGERPRINT_KEY: f"{digest}:{seen[digest]}"},
            }
        )
    return results


def _artifact_location(path: str) -> dict:
    uri = artifact_uri(path)
    if uri.startswith("file:"):
        return {"uri": uri}
    return {"uri": uri, "uriBaseId": SOURCE_ROOT}
