"""cfn-lint plugin: ibpolicy-lint's checks, reported as cfn-lint rules.

Use it from the cfn-lint that is installed beside ibpolicy-lint::

    cfn-lint -a ibpolicy_lint.cfn_lint -- templates/*.yaml

or put ``append_rules: [ibpolicy_lint.cfn_lint]`` in ``.cfnlintrc``. cfn-lint 1.x accepts a dotted
module name for ``--append-rules`` (a value that is not a directory is imported as a module, and every
``CloudFormationLintRule`` subclass found in it becomes a rule). This is the only module of the
package that imports cfn-lint; the ``ibpolicy-lint`` command never loads it.

Rule IDs
    One cfn-lint rule per catalogue entry (``rules/*.yaml``). cfn-lint reads a rule's level from the
    first letter of its ID, so the letter is the catalogue's default severity (E error, W warning,
    I informational), then ``9``, then the three digits of the IBP number: IBP101 (error) is E9101,
    IBP103 (warning) W9103, IBP901 (info) I9901. ``rule_table()`` computes the whole table from the
    catalogue; the README lists it and the test suite keeps the two in step.

Severity
    A finding whose severity differs from its rule's default (an error found in only one branch of
    an ``Fn::If`` drops to a warning) is still reported under its rule's ID, because a cfn-lint rule
    has one fixed level. Its message then ends with ``(ibpolicy-lint severity: warning)``, and the
    match carries ``ibpolicy_severity`` and ``ibpolicy_rule`` attributes for programs using cfn-lint's API.

What is checked
    The template cfn-lint is linting, read from its file by the same loader and checks as the
    ``ibpolicy-lint`` command, once per template and parameter set however many rules are enabled.
    The parameter values cfn-lint was given (``--parameters``, ``--parameter-files``, or
    ``parameters`` in the template's ``Metadata: cfn-lint: config``) override the template's defaults,
    as ``--parameter-file`` does for ``ibpolicy-lint``; with several parameter sets, the findings of
    every set are reported. A template piped on standard input has no file to read and is not checked.
    Each template is checked alone: what needs two templates at once (a pipeline in one stack wiring a
    recipe defined in another) is found by ``ibpolicy-lint`` run on the folder, not by the plugin.

Configuration
    ``.ibpolicy-lint.yaml`` (or ``[tool.ibpolicy-lint]`` in ``pyproject.toml``), found upward from the
    current directory as the command finds it, is read once per process: its ``select``, ``ignore``,
    ``per-path-ignores``, ``exclude`` and ``accounts`` apply as they do to ``ibpolicy-lint FILE``
    (``fail-on`` does not: cfn-lint has its own exit codes). A configuration that cannot be used is
    reported through the failure channel below, for every template, and nothing is checked.

Positions and ignores
    A match is at the finding's exact line and column. Its path is the template node at that place
    (or the finding's resource), so ``--ignore-checks``, template-level ``ignore_checks`` and a
    resource's ``Metadata: cfn-lint: config: ignore_checks`` all work with the IDs above.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import rule_url
from .catalogue import Rule, load_catalogue
from .cloudformation import ParameterValue
from .config import Config, ConfigError, load_config
from .findings import Finding, Severity
from .scan import ScanOptions, scan

_LEVEL_LETTER = {"error": "E", "warning": "W", "info": "I"}
_FAMILY_TAG = {"0": "parsing", "1": "kms-key", "2": "key-policy", "3": "distribution-role", "9": "unresolved"}


class MappedRule(NamedTuple):
    ibpolicy: str  # IBP101
    cfn_lint: str  # E9101
    severity: str  # the catalogue's default severity: error, warning or info


def cfn_lint_id(rule: Rule) -> str:
    """The cfn-lint ID of a catalogue rule: level letter, 9, IBP number (IBP103, warning -> W9103)."""
    return f"{_LEVEL_LETTER[rule.severity]}9{rule.id.removeprefix('IBP')}"


def rule_table() -> list[MappedRule]:
    """Every catalogue rule with its cfn-lint ID, in catalogue order."""
    return [MappedRule(rule.id, cfn_lint_id(rule), rule.severity) for rule in load_catalogue().values()]


# --- running the scan once per template ------------------------------------------------------


@dataclass
class _Outcome:
    findings: tuple[Finding, ...] = ()
    failure: Exception | None = None
    failure_reported: bool = False
    by_rule: dict[str, list[Finding]] = field(default_factory=dict)


_ParameterSets = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def _parameter_sets(cfn: Any) -> _ParameterSets:
    """The parameter sets cfn-lint gives the template, as (source, ((name, value), ...)) tuples."""
    given = list(getattr(getattr(cfn, "context", None), "parameter_sets", None) or ())
    sets = []
    for number, parameter_set in enumerate(given, start=1):
        unnamed = "cfn-lint --parameters" + (f" (set {number})" if len(given) > 1 else "")
        source = getattr(parameter_set, "source", None) or unnamed
        values = getattr(parameter_set, "parameters", None) or {}
        sets.append((str(source), tuple(sorted((str(name), _parameter_text(value)) for name, value in values.items()))))
    return tuple(sets)


def _parameter_text(value: Any) -> str:
    """A parameter value as CloudFormation receives it: a string (lists comma-joined)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_parameter_text(item) for item in value)
    return "" if value is None else str(value)


@functools.lru_cache(maxsize=1)
def _configuration() -> tuple[Config, ConfigError | None]:
    """The configuration ``ibpolicy-lint`` would use here, read once per process (cfn-lint lints many
    templates in one run); a ConfigError is kept, so that each template reports it."""
    try:
        return load_config(), None
    except ConfigError as error:
        return Config(), error


@functools.lru_cache(maxsize=32)
def _scan_template(path: str, stamp: tuple[int, int], parameter_sets: _ParameterSets) -> _Outcome:
    """ibpolicy-lint's findings for one file; ``stamp`` (mtime, size) makes an edited file scan again."""
    try:
        config, problem = _configuration()
        if problem is not None:
            raise problem
        findings: dict[Finding, None] = {}
        for source, values in parameter_sets or (("", ()),):
            parameter_values = {name: ParameterValue(value, source) for name, value in values}
            options = ScanOptions(
                paths=[path], parameter_values=parameter_values, config=config, select=config.select, ignore=config.ignore
            )
            result = scan(options)
            # Only what is in this file: cfn-lint places every match in the template it is linting.
            findings.update(dict.fromkeys(finding for finding in result.findings if _same_file(finding.span.file, path)))
    except Exception as error:  # noqa: BLE001 - reported once through cfn-lint's rule-error channel
        return _Outcome(failure=error)
    outcome = _Outcome(findings=tuple(findings))
    for finding in outcome.findings:
        outcome.by_rule.setdefault(finding.rule, []).append(finding)
    return outcome


def _same_file(display: str, path: str) -> bool:
    return os.path.normcase(os.path.abspath(display)) == os.path.normcase(path)


def _outcome(cfn: Any) -> _Outcome | None:
    filename = getattr(cfn, "filename", None)
    if not filename:
        return None  # piped on standard input: no file to read
    path = os.path.abspath(filename)
    try:
        status = os.stat(path)
    except OSError:
        return None  # cfn-lint has already reported a file it cannot read
    return _scan_template(path, (status.st_mtime_ns, status.st_size), _parameter_sets(cfn))


# --- turning findings into cfn-lint matches --------------------------------------------------


def _start(node: Any) -> tuple[int, int] | None:
    mark = getattr(node, "start_mark", None)
    return None if mark is None else (mark.line, mark.column)


def _covers(node: Any, position: tuple[int, int]) -> bool:
    start, end = _start(node), getattr(node, "end_mark", None)
    return start is not None and end is not None and start <= position < (end.line, end.column)


def _path_at(template: Any, position: tuple[int, int]) -> list[str | int]:
    """The path of the deepest node of cfn-lint's decoded template at ``position`` (0-based line, column).

    In a mapping, the entry at a position is the last key starting at or before it (keys made by
    short-form tags, such as ``Fn::If`` from ``!If``, have no marks and start with their mapping);
    in a list, the item whose span holds it. Lists and mappings without marks (the arguments of
    ``!If``) are entered all the same. The descent stops at a scalar without marks (a boolean or a
    number) or a node that does not span the position, keeping the key that leads to it.
    """
    path: list[str | int] = []
    node = template
    while True:
        if isinstance(node, dict):
            node_start = _start(node)
            candidates = [(_start(key) or node_start, index, key) for index, key in enumerate(node)]
            before = [(start, index, key) for start, index, key in candidates if start is not None and start <= position]
            if not before:
                return path
            _, _, key = max(before)
            path.append(key)
            child = node[key]
        elif isinstance(node, list):
            index = next((i for i, item in enumerate(node) if _covers(item, position)), None)
            if index is None:
                return path
            path.append(index)
            child = node[index]
        else:
            return path
        unmarked_container = _start(child) is None and isinstance(child, (dict, list))
        if not (unmarked_container or _covers(child, position)):
            return path
        node = child


def _match_path(cfn: Any, finding: Finding) -> list[str | int]:
    """Where the finding is in the template, as cfn-lint paths go: resource-level ignores read ``path[:2]``."""
    template = getattr(cfn, "template", None)
    path = _path_at(template, (finding.span.line - 1, finding.span.column - 1)) if isinstance(template, dict) else []
    resources = template.get("Resources") if isinstance(template, dict) else None
    in_resource = len(path) >= 2 and path[0] == "Resources"
    if not in_resource and finding.resource and isinstance(resources, dict) and finding.resource in resources:
        return ["Resources", finding.resource]
    return path


def _rule_match(cfn: Any, finding: Finding, default: Severity) -> RuleMatch:
    message = finding.message
    if finding.severity != default:
        message = f"{message} (ibpolicy-lint severity: {finding.severity})"
    span = finding.span
    return RuleMatch(
        _match_path(cfn, finding),
        message,
        # cfn-lint uses ``location`` (0-based line, column, end line, end column) instead of the path's node
        location=(span.line - 1, span.column - 1, span.end_line - 1, span.end_column - 1),
        ibpolicy_rule=finding.rule,
        ibpolicy_severity=str(finding.severity),
    )


class _IbpolicyMatcher:
    """What every generated rule does. Not itself a CloudFormationLintRule, so cfn-lint does not load it as a rule."""

    ibpolicy_rule: str = ""
    ibpolicy_severity: Severity = Severity.ERROR

    def match(self, cfn: Any) -> list[RuleMatch]:
        outcome = _outcome(cfn)
        if outcome is None:
            return []
        if outcome.failure is not None:
            if outcome.failure_reported:
                return []
            # Raised by one rule only; cfn-lint turns it into one E0002 "Unknown exception while processing rule".
            outcome.failure_reported = True
            raise RuntimeError(f"ibpolicy-lint could not check this template: {outcome.failure!r}") from outcome.failure
        return [_rule_match(cfn, finding, self.ibpolicy_severity) for finding in outcome.by_rule.get(self.ibpolicy_rule, ())]


def _rule_class(rule: Rule) -> type[CloudFormationLintRule]:
    identifier = cfn_lint_id(rule)
    family = _FAMILY_TAG.get(rule.id.removeprefix("IBP")[:1])
    attributes = {
        "__module__": __name__,
        "__doc__": f"{rule.id} as cfn-lint rule {identifier}: {rule.title}",
        "id": identifier,
        "shortdesc": rule.title,
        "description": " ".join(rule.summary.split()),
        "source_url": rule_url(rule.id),
        "tags": ["ibpolicy-lint", "imagebuilder", *([family] if family else [])],
        "ibpolicy_rule": rule.id,
        "ibpolicy_severity": Severity.parse(rule.severity),
    }
    return type(identifier, (_IbpolicyMatcher, CloudFormationLintRule), attributes)


def _rule_classes() -> Iterator[type[CloudFormationLintRule]]:
    for rule in load_catalogue().values():
        yield _rule_class(rule)


# cfn-lint finds rules by looking through this module's attributes for CloudFormationLintRule subclasses.
RULE_CLASSES: tuple[type[CloudFormationLintRule], ...] = tuple(_rule_classes())
globals().update({rule_class.__name__: rule_class for rule_class in RULE_CLASSES})

__all__ = ["MappedRule", "RULE_CLASSES", "cfn_lint_id", "rule_table", *(rule_class.__name__ for rule_class in RULE_CLASSES)]
