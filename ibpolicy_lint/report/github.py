"""``--format github``: GitHub Actions workflow commands, one line per finding, nothing else.

Printed in a workflow step, each line becomes an annotation on the file and line in the run summary
and on the pull request's diff::

    ::error file=infra/pipeline.yaml,line=42,col=11,endLine=42,endColumn=33,title=IBP101::GoldenRecipe volume …

``error`` findings give ``::error``, ``warning`` ``::warning`` and ``info`` ``::notice``. The title is
the rule ID. The message is the finding's message followed, on further lines, by the AWS error it
prevents and the fix (GitHub shows multi-line annotation messages).

``col``/``endColumn`` are given only for a span on one line: GitHub's annotations take columns only
when the start and end lines are the same. ``endColumn`` is exclusive, as everywhere in ibpolicy-lint.

Escaping follows GitHub's workflow-command rules: in the message ``%``, CR and LF become ``%25``,
``%0D`` and ``%0A``; property values (file, title) additionally escape ``:`` and ``,`` as ``%3A``
and ``%2C``.
"""

from __future__ import annotations

from ..findings import Finding
from ..scan import ScanResult
from . import explained

_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def render(result: ScanResult, version: str) -> str:
    return "".join(command(finding) + "\n" for finding in result.findings)


def command(finding: Finding) -> str:
    """The workflow command for one finding (no trailing newline)."""
    span = finding.span
    properties = [("file", span.file), ("line", str(span.line))]
    if span.end_line == span.line:
        properties += [("col", str(span.column)), ("endLine", str(span.end_line)), ("endColumn", str(span.end_column))]
    else:
        properties.append(("endLine", str(span.end_line)))
    properties.append(("title", finding.rule))
    rendered = ",".join(f"{name}={escape_property(value)}" for name, value in properties)
    return f"::{_COMMANDS[str(finding.severity)]} {rendered}::{escape_data(explained(finding))}"


def escape_data(text: str) -> str:
    """Escape a command's message: ``%`` first, so the escapes it introduces are not escaped again."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a command property value: the message escapes plus ``:`` and ``,``, which delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
