"""The command line (DESIGN.md section 2). Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from . import __version__
from .report import FORMATS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FAIL_ON = ("error", "warning", "info", "never")


class UsageError(Exception):
    """A problem with the command line or configuration: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit itself; we want one code path
        raise UsageError(message)


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own layout, told the terminal's width: left to find it, argparse imports shutil (with
    bz2 and lzma) on every run, as it builds a formatter for each option added."""

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ.get("COLUMNS") or os.get_terminal_size(sys.stdout.fileno()).columns)
        except (AttributeError, ValueError, OSError):  # not a terminal, or no usable stdout
            columns = 80
        super().__init__(prog, width=max(columns, 20) - 2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ibpolicy-lint",
        formatter_class=_HelpFormatter,
        description="Find EC2 Image Builder cross-account distribution failures in CloudFormation and Terraform, before deploy.",
    )
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files or folders to scan (default: .)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    parser.add_argument("--output-file", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument(
        "--select",
        metavar="IDS",
        help="only these rule IDs or prefixes, comma-separated (e.g. IBP1,IBP203); IBP000 (unreadable input) is always kept",
    )
    parser.add_argument("--ignore", metavar="IDS", help="skip these rule IDs or prefixes, comma-separated")
    parser.add_argument(
        "--fail-on", choices=FAIL_ON, default=None, help="lowest severity that makes the exit code 1 (default: warning)"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="configuration file (default: .ibpolicy-lint.yaml or pyproject.toml, searched upward)"
    )
    parser.add_argument(
        "--parameter-file",
        action="append",
        default=[],
        metavar="FILE",
        help='CloudFormation parameter values, [{"ParameterKey","ParameterValue"}] or {"Parameters": {...}}; '
        "may repeat (later files win)",
    )
    parser.add_argument(
        "--var-file",
        action="append",
        default=[],
        metavar="FILE",
        help="Terraform variable values (.tfvars or .tfvars.json); may repeat (later files win)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="do not reuse or store earlier results (cache: $IBPOLICY_LINT_CACHE_DIR or ~/.cache/ibpolicy-lint)",
    )
    parser.add_argument(
        "--no-prefilter",
        action="store_true",
        help="fully parse every CloudFormation template and Terraform folder, even those that name no resource "
        "a rule reads (Image Builder, KMS, IAM, EBS, StackSet); slower",
    )
    parser.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    parser.add_argument("--explain", metavar="ID", help="print a rule's catalogue entry and exit")
    parser.add_argument("--version", action="version", version=f"ibpolicy-lint {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # A scan allocates many long-lived objects (classes at import, parse trees, values) and little cyclic
    # garbage, so Python's default collector thresholds mostly re-scan live objects: raising them made the
    # corpora scan 15% faster (0.76 s -> 0.65 s) with the same peak memory (bench/).
    gc.set_threshold(50_000, 100, 100)
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except UsageError as error:
        print(f"ibpolicy-lint: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - a traceback must not reach the user
        if os.environ.get("IBPOLICY_LINT_DEBUG"):
            raise
        print(
            f"ibpolicy-lint: internal error: {type(error).__name__}: {error}\n"
            "This is a bug; set IBPOLICY_LINT_DEBUG=1 to see the traceback, and please report it.",
            file=sys.stderr,
        )
        return EXIT_USAGE


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.list_rules:
        return _write(args.output_file, _list_rules())
    if args.explain:
        return _write(args.output_file, _explain(args.explain))

    from .cache import ScanCache, default_directory
    from .config import ConfigError, load_config
    from .scan import ScanError, ScanOptions, read_parameter_file, scan

    try:
        config = load_config(args.config)  # its rule IDs are checked against the catalogue as it loads
    except ConfigError as error:
        raise UsageError(str(error)) from None
    # The command line wins over the configuration file.
    select = _selectors(args.select, "--select") if args.select else config.select
    ignore = _selectors(args.ignore, "--ignore") if args.ignore else config.ignore
    fail_on = args.fail_on or config.fail_on or "warning"

    parameter_values: dict = {}
    for path in args.parameter_file:
        try:
            parameter_values.update(read_parameter_file(path))
        except ValueError as error:
            raise UsageError(str(error)) from None

    options = ScanOptions(
        paths=args.paths,
        parameter_values=parameter_values,
        var_files=args.var_file,
        prefilter=not args.no_prefilter,
        config=config,
        select=select,
        ignore=ignore,
        cache=None if args.no_cache else ScanCache(default_directory()),
    )
    try:
        result = scan(options)
    except ScanError as error:
        raise UsageError(str(error)) from None

    from .report import render

    report = render(result, args.format, __version__)
    # Decided before the report is written: a reader that stops early (``| head``) must not turn
    # findings into success under ``set -o pipefail``.
    code = _exit_code(result.findings, fail_on)
    _write(args.output_file, report)
    return code


def _selectors(raw: str, option: str) -> list[str]:
    from .catalogue import unknown_selector

    selectors = [item.strip().upper() for item in raw.split(",") if item.strip()]
    unknown = unknown_selector(selectors)
    if unknown is not None:
        raise UsageError(f"{option}: {unknown} matches no rule (see --list-rules)")
    return selectors


def _exit_code(findings: list, fail_on: str) -> int:
    if fail_on == "never":
        return EXIT_CLEAN
    from .findings import Severity

    threshold = Severity.parse(fail_on)
    return EXIT_FINDINGS if any(finding.severity >= threshold for finding in findings) else EXIT_CLEAN


def _write(output_file: str | None, text: str) -> int:
    if output_file:
        try:
            with open(output_file, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
        except OSError as error:
            raise UsageError(f"cannot write {output_file}: {error.strerror or error}") from None
    else:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader closed the pipe (``| head``). Point standard output at devnull so Python's flush
            # at exit does not fail again; the caller's exit code stands.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
    return EXIT_CLEAN


def _list_rules() -> str:
    from .catalogue import load_catalogue

    rows = [f"{rule.id}  {rule.severity:<7}  {rule.title}" for rule in load_catalogue().values()]
    return "\n".join(rows) + "\n"


def _explain(rule_id: str) -> str:
    from .catalogue import rule_by_id

    rule = rule_by_id(rule_id.strip().upper())
    if rule is None:
        raise UsageError(f"--explain: no rule {rule_id} (see --list-rules)")
    sections = [
        f"{rule.id} ({rule.severity}): {rule.title}",
        "",
        "What it detects",
        _indent(rule.summary),
        "",
    ]
    if rule.predicts:
        sections += ["The AWS error it prevents", _indent(rule.predicts), ""]
    sections += ["Why", _indent(rule.rationale), "", "Fix", _indent(rule.fix), ""]
    for language, pair in rule.examples.items():
        title = "CloudFormation" if language == "cloudformation" else "Terraform"
        sections += [f"{title}: fails", _indent(pair["bad"]), "", f"{title}: fixed", _indent(pair["good"]), ""]
    return "\n".join(sections).rstrip() + "\n"


def _indent(text: str) -> str:
    return "\n".join(("    " + line) if line.strip() else "" for line in text.strip("\n").splitlines())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
