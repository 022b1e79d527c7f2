"""``--format junit``: JUnit XML, the test-report format Jenkins, GitLab and Azure Pipelines read.

One ``<testsuite name="ibpolicy-lint">`` inside ``<testsuites>``; one ``<testcase>`` per finding, with
``classname`` the file and ``name`` ``"<rule> <file>:<line>"``:

* an ``error`` or ``warning`` finding is a failed test: ``<failure type="IBP101" message="…">`` whose
  text holds the location, severity, message, the AWS error it prevents, the fix and the rule's URL;
* an ``info`` finding is a *skipped* test: ``<skipped message="…">`` with the same text. Info findings
  are advisory (they do not fail the run under the default ``--fail-on warning``), so they must not
  turn a CI test report red, but a skipped test stays visible in every one of those dashboards, where a
  passing test with ``system-out`` would be lost among the passes.

Failures do not follow ``--fail-on``: the report says what was found, the exit code says whether it
blocks. ``errors`` is always 0 (a file that cannot be parsed is finding IBP000, a failure). With no
findings the suite holds one passing test, so CI does not complain of an empty report.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .. import rule_url
from ..findings import Finding
from ..scan import ScanResult
from . import explained, summary

SUITE = "ibpolicy-lint"

# Characters XML 1.0 cannot carry at all, even escaped (control characters other than tab, LF and CR).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render(result: ScanResult, version: str) -> str:
    suite = ET.Element("testsuite", name=SUITE)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="ibpolicy-lint.version", value=version)
    failures = skipped = 0
    for finding in result.findings:
        span = finding.span
        case = ET.SubElement(
            suite, "testcase", classname=_clean(span.file), name=_clean(f"{finding.rule} {span.file}:{span.line}"), time="0"
        )
        if str(finding.severity) == "info":
            skipped += 1
            outcome = ET.SubElement(case, "skipped", message=_clean(finding.message))
        else:
            failures += 1
            outcome = ET.SubElement(case, "failure", type=finding.rule, message=_clean(finding.message))
        outcome.text = _clean(_details(finding))
    if not result.findings:
        files = summary(result)["files"]
        ET.SubElement(
            suite, "testcase", classname=SUITE, name=f"no findings in {files} file{'' if files == 1 else 's'}", time="0"
        )
    counts = {
        "tests": str(max(len(result.findings), 1)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": "0",
    }
    suite.attrib.update(counts)
    root = ET.Element("testsuites", name=SUITE, **counts)
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _details(finding: Finding) -> str:
    span = finding.span
    return "\n".join(
        [f"{span.file}:{span.line}:{span.column}: {finding.rule} {finding.severity}", explained(finding), rule_url(finding.rule)]
    )


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
