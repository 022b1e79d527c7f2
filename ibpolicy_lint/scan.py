"""One scan: discover -> load -> link -> check. Reports are written elsewhere."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import cloudformation, limits, suppressions, terraform_plan
from .cache import ScanCache, stamp
from .catalogue import matches
from .checks import run_checks
from .config import Config
from .discover import Candidate, Unreadable, discover, display_path
from .documents import DocumentError, as_utf8, check_syntax, decode, has_anchors, parse_json, parse_yaml
from .estate import Estate
from .findings import Finding, Severity
from .model import Deployment, Resource
from .source import SourceText, Span
from .values import MapValue, Value

UNREADABLE = "IBP000"  # a source that cannot be read, parsed or evaluated


@dataclass
class ScanOptions:
    paths: list[str] = field(default_factory=lambda: ["."])
    config: Config = field(default_factory=Config)
    parameter_values: Mapping[str, cloudformation.ParameterValue] = field(default_factory=dict)
    var_files: list[str] = field(default_factory=list)
    # Skip templates and Terraform module folders that name no resource type a rule reads (a byte-level check).
    prefilter: bool = True
    # Rule IDs or prefixes, already checked against the catalogue: --select/--ignore, else the configuration's.
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    cache: ScanCache | None = None

    def wanted(self, rule: str) -> bool:
        """Whether the run reports a rule: selected (everything when nothing is) and not ignored.

        IBP000 is kept by any selection, so ``--select IBP1`` on a broken template does not say
        "No findings": a file that could not be read was not checked. Only an ignore drops it.
        """
        if self.ignore and matches(rule, self.ignore):
            return False
        return not self.select or rule == UNREADABLE or matches(rule, self.select)


@dataclass
class ScanResult:
    findings: list[Finding]
    files: int
    text: SourceText


class ScanError(Exception):
    """An input the user named cannot be used (a var file that does not parse): a usage error."""


def scan(options: ScanOptions) -> ScanResult:
    candidates, unreadable = discover(options.paths, options.config.excludes)
    if options.cache is None:
        return _scan(options, candidates, unreadable)
    key = options.cache.key(_description(options, candidates, unreadable))
    hit = options.cache.load(key)
    if hit is not None:
        findings, files, quotes = hit
        return ScanResult(findings=findings, files=files, text=SourceText.of_quotes(quotes))
    stops = limits.stops_by_circumstance
    before = {str(candidate.path): stamp(str(candidate.path)) for candidate in candidates}
    result = _scan(options, candidates, unreadable)
    # Not remembered: a scan where a file ran out of time (it may not next time), or one that ran while
    # a file was being edited (its findings may describe the old text, the entry would record the new).
    if limits.stops_by_circumstance == stops and all(stamp(path) == was for path, was in before.items()):
        options.cache.store(key, result.findings, result.files, _inputs(options, candidates, result.text), result.text)
    return result


def _description(options: ScanOptions, candidates: list[Candidate], unreadable: list[Unreadable]) -> dict:
    """Everything a scan's findings depend on besides the content of the files it reads (``_inputs``)."""
    return {
        "paths": options.paths,
        "config": str(options.config.path),
        "parameters": sorted((name, value.value, value.source) for name, value in options.parameter_values.items()),
        "var_files": options.var_files,
        "prefilter": options.prefilter,
        "select": options.select,
        "ignore": options.ignore,
        "candidates": [[c.display, c.kind] for c in candidates],
        "unreadable": [[u.display, u.reason] for u in unreadable],
        # The limits (IBPOLICY_LINT_TIME_LIMIT_SECONDS, ...) decide which files are read at all.
        "environment": sorted(
            (name, value)
            for name, value in os.environ.items()
            if name.startswith("IBPOLICY_LINT_") and name != "IBPOLICY_LINT_CACHE_DIR"
        ),
    }


def _inputs(options: ScanOptions, candidates: list[Candidate], text: SourceText) -> set[str]:
    """Every file and folder whose content the findings depend on."""
    named = [*options.var_files, *([str(options.config.path)] if options.config.path else [])]
    return {os.path.abspath(path) for path in [*text.read(), *(str(c.path) for c in candidates), *named]}


def _scan(options: ScanOptions, candidates: list[Candidate], unreadable: list[Unreadable]) -> ScanResult:
    text = SourceText()
    findings: list[Finding] = [_problem(problem.display, problem.reason) for problem in unreadable]
    resources: list[Resource] = []
    files = len(unreadable)
    plans: list[tuple[Candidate, Value]] = []
    for candidate in candidates:
        if candidate.kind != "document":
            continue  # Terraform is loaded by module folder, below
        loaded, failure = limits.contained(lambda: _load_document(candidate, options, text, plans), "while it was read")
        if failure:  # out of time or memory, or a bug: this file is IBP000, the others are still checked
            loaded = [], [_problem(candidate.display, failure)]
        if loaded is None:
            continue
        files += 1
        found, problems = loaded
        resources.extend(found)
        findings.extend(problems)
    terraform_files = [c for c in candidates if c.kind in ("terraform", "terraform-json")]
    if terraform_files or plans or options.var_files:
        found, problems = _load_terraform(terraform_files, plans, options, text)
        files += len(terraform_files)
        resources.extend(found)
        findings.extend(problems)
    resources = _walkable(resources, findings)
    # Accounts the configuration assigns scanned files to; those the loaded resources deploy to, the estate finds itself.
    accounts_in_scan = {account.id for candidate in candidates if (account := options.config.account_for(candidate.path))}
    # Suppressions are matched against every finding, before --select/--ignore, so none looks stale
    # only because its rule is not selected in this run: with suppressions, every check runs.
    declared = [suppression for resource in resources for suppression in resource.suppressions]
    found_suppressions = suppressions.inline_suppressions(text) + declared
    wanted = (lambda rule: True) if found_suppressions else options.wanted
    findings.extend(run_checks(Estate(resources, accounts_in_scan), wanted))
    resource_lines = {(resource.span.file, resource.name): resource.span.line for resource in resources}
    findings = suppressions.apply(findings, found_suppressions, resource_lines)
    findings = [finding for finding in findings if options.wanted(finding.rule) and not _ignored_by_path(finding, options.config)]
    return ScanResult(findings=sorted(set(findings), key=Finding.sort_key), files=files, text=text)


def _walkable(resources: list[Resource], findings: list[Finding]) -> list[Resource]:
    """The resources the checks can walk; the others become IBP000 (values too deep or too large)."""
    kept = []
    for resource in resources:
        reason = limits.oversized(resource)
        if reason is None:
            kept.append(resource)
        else:
            span = resource.span
            findings.append(_problem(span.file, f"{resource.name} has {reason}; not checked", span.line, span.column))
    return kept


def _ignored_by_path(finding: Finding, config: Config) -> bool:
    """``per-path-ignores`` in the configuration: rules (or prefixes) switched off for some paths."""
    if not config.per_path_ignores:
        return False
    return matches(finding.rule, config.ignored_here(Path(finding.span.file)))


def _load_document(
    candidate: Candidate, options: ScanOptions, text: SourceText, plans: list[tuple[Candidate, Value]]
) -> tuple[list[Resource], list[Finding]] | None:
    """A CloudFormation template's resources and problems; None when the file is not a source we read.

    Terraform plan JSON files are parsed and set aside in ``plans`` for the Terraform loader.
    """
    try:
        with open(candidate.path, "rb") as stream:
            data = stream.read(limits.MAX_DOCUMENT_BYTES + 1)
    except OSError as error:
        return [], [_problem(candidate.display, f"cannot be read: {error.strerror or error}")]
    too_large = len(data) > limits.MAX_DOCUMENT_BYTES
    data = as_utf8(data)  # a UTF-16 template's markers are then visible to the byte-level test
    is_plan = candidate.path.name.lower().endswith(".json") and terraform_plan.is_plan(data)
    if not is_plan and not cloudformation.looks_like_template(data):
        return None
    if too_large:
        return [], [_problem(candidate.display, limits.too_large(limits.MAX_DOCUMENT_BYTES, "a template"))]
    is_json = candidate.path.name.lower().endswith(".json")
    if options.prefilter and not is_plan and not cloudformation.may_matter(data) and not has_anchors(data):
        # No resource type a rule reads: check that it parses (in C, building nothing) and stop there.
        try:
            check_syntax(data, is_json)
        except DocumentError as error:
            text.add(candidate.display, decode(data))
            return [], [_problem(candidate.display, f"cannot be parsed: {error.reason}", error.line, error.column)]
        return [], []
    text.add(candidate.display, decode(data))
    parse = parse_json if is_json else parse_yaml
    try:
        document = parse(data, candidate.display)
    except DocumentError as error:
        return [], [_problem(candidate.display, f"cannot be parsed: {error.reason}", error.line, error.column)]
    except RecursionError:
        return [], [_problem(candidate.display, "cannot be parsed: nesting too deep")]
    if is_plan:
        plans.append((candidate, document.root))
        return [], []
    if not cloudformation.is_template(document.root):
        return None
    problems = [
        Finding(
            UNREADABLE,
            Severity.ERROR,
            f"{candidate.display}: key {duplicate.key!r} appears twice (lines {duplicate.first.line} and "
            f"{duplicate.second.line}); CloudFormation's behaviour is undefined, this linter read the last one",
            duplicate.second,
        )
        for duplicate in document.duplicates
    ]
    account = options.config.account_for(candidate.path)
    deployment = Deployment(
        key=f"stack:{candidate.display}",
        name=f"stack {candidate.display}" + (f" in account {account.name}" if account else ""),
        account=account.id if account else None,
        account_label="AWS::AccountId",
    )
    try:
        lines = text.lines(candidate.display)
        resources = cloudformation.load_template(
            document.root, candidate.display, deployment, options.parameter_values, lines=lines
        )
    except RecursionError:
        return [], [*problems, _problem(candidate.display, "cannot be evaluated: nesting too deep")]
    return resources, problems


def _load_terraform(
    candidates: list[Candidate], plans: list[tuple[Candidate, Value]], options: ScanOptions, text: SourceText
) -> tuple[list[Resource], list[Finding]]:
    from . import terraform

    cwd = Path.cwd()
    sources = terraform.Sources(lambda path: display_path(path, cwd), text.add, text.note)
    var_files = []
    for path in options.var_files:
        try:
            var_files.append((path, terraform.load_var_file(path, sources)))
        except ValueError as error:
            raise ScanError(str(error)) from None
    folders = sorted({parent.resolve() for parent in {candidate.path.parent for candidate in candidates}})
    named = [Path(path) for path in options.paths if Path(path).is_dir()]
    sources.scanned = [*(path.resolve() for path in named), *folders]
    plan_values = {
        candidate.path.parent.resolve(): terraform_plan.plan_variables(root, candidate.display)
        for candidate, root in plans
        if isinstance(root, MapValue)
    }
    if options.prefilter:

        def account_known(folder: Path) -> bool:  # a plan gives its providers' settings
            return folder in plan_values or options.config.account_for(folder) is not None

        needed = terraform.folders_that_matter(folders, lambda path: text.note(str(path)), account_known)
        folders = [folder for folder in folders if folder in needed]
    loader = terraform.TerraformLoader(sources, var_files, options.config.account_for)
    try:
        resources = loader.load(folders, plan_values, named)
    except RecursionError:
        resources = []
        sources.problems.append(terraform.Problem(display_path(folders[0], cwd), "cannot be evaluated: nesting too deep"))
    for candidate, root in plans:
        if candidate.path.parent.resolve() not in loader.loaded_roots and isinstance(root, MapValue):
            account = getattr(options.config.account_for(candidate.path.parent.resolve()), "id", None)  # the default provider's
            found, failure = limits.contained(
                lambda: terraform_plan.load_plan(root, candidate.display, account), "while it was read"
            )
            if failure:
                sources.problems.append(terraform.Problem(candidate.display, failure))
            resources.extend(found or [])
    problems = [_problem(p.display, p.reason, p.line, p.column) for p in sources.problems]
    return resources, problems


def _problem(display: str, reason: str, line: int | None = None, column: int | None = None) -> Finding:
    where = f" (line {line}, column {column})" if line and column else f" (line {line})" if line else ""
    return Finding(UNREADABLE, Severity.ERROR, f"{display}{where} {reason}", Span.at(display, line or 1, column or 1))


def read_parameter_file(path: str) -> dict[str, cloudformation.ParameterValue]:
    """CloudFormation parameters: ``[{"ParameterKey", "ParameterValue"}]`` or ``{"Parameters": {...}}``.

    Raises ValueError with a message for the user when the file is not in either form.
    """
    import json

    try:
        raw = json.loads(Path(path).read_bytes())  # UTF-8 (with or without a BOM), or UTF-16/32 as JSON allows
    except OSError as error:
        raise ValueError(f"cannot read parameter file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:  # a ValueError too, but its own message names no file
        encoding = error.encoding.upper()
        raise ValueError(f"parameter file {path} is not {encoding} text: {error.reason} at byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"parameter file {path} is not JSON: {error.msg} (line {error.lineno})") from None
    pairs: list[tuple[object, object]] = []
    if isinstance(raw, list):
        for item in raw:
            if not isinstance(item, dict) or "ParameterKey" not in item:
                raise ValueError(f"parameter file {path}: every item needs ParameterKey and ParameterValue")
            pairs.append((item["ParameterKey"], item.get("ParameterValue")))
    elif isinstance(raw, dict) and isinstance(raw.get("Parameters"), dict):
        pairs = list(raw["Parameters"].items())
    else:
        raise ValueError(
            f'parameter file {path}: expected [{{"ParameterKey": …, "ParameterValue": …}}] or {{"Parameters": {{…}}}}'
        )
    values: dict[str, cloudformation.ParameterValue] = {}
    for key, value in pairs:
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        values[str(key)] = cloudformation.ParameterValue(str(value) if value is not None else "", path)
    return values
