"""The cfn-lint plugin (ibpolicy_lint.cfn_lint) through the real cfn-lint command.

cfn-lint runs in a subprocess, from its own console-script entry point and this interpreter, with
``--format json``; its matches are compared with what ``ibpolicy-lint --format json`` reports on the
same file. No part of either tool is replaced.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, run_cfn_lint, run_cli

cfnlint = pytest.importorskip("cfnlint")

from ibpolicy_lint import cfn_lint as plugin  # noqa: E402 - only when cfn-lint is installed
from ibpolicy_lint import rule_url  # noqa: E402
from ibpolicy_lint.catalogue import load_catalogue  # noqa: E402

OUR_ID = re.compile(r"^[EWI]9\d{3}$")
BAD = FIXTURES / "ibp101-recipe-managed-key" / "bad.yaml"
GOOD = FIXTURES / "ibp101-recipe-managed-key" / "good.yaml"
OVERRIDE = FIXTURES / "parameter-file-override"
MANAGED_EBS = "arn:aws:kms:us-east-1:999988887777:alias/aws/ebs"
LEVELS = {"error": "Error", "warning": "Warning", "info": "Informational"}


def ours(matches: list[dict]) -> list[dict]:
    return [match for match in matches if OUR_ID.match(match["Rule"]["Id"])]


def _where(match: dict) -> tuple:
    location = match["Location"]
    return (
        match["Rule"]["Id"],
        location["Start"]["LineNumber"],
        location["Start"]["ColumnNumber"],
        location["End"]["LineNumber"],
        location["End"]["ColumnNumber"],
    )


# --- the ID table ------------------------------------------------------------------------------


def test_every_catalogue_rule_has_one_cfn_lint_id():
    table = plugin.rule_table()
    catalogue = load_catalogue()
    assert [row.ibpolicy for row in table] == list(catalogue)
    assert len({row.cfn_lint for row in table}) == len(table)
    for row in table:
        letter = {"error": "E", "warning": "W", "info": "I"}[catalogue[row.ibpolicy].severity]
        assert row.cfn_lint == f"{letter}9{row.ibpolicy[3:]}"
        assert row.severity == catalogue[row.ibpolicy].severity
    mapped = {row.ibpolicy: row.cfn_lint for row in table}
    assert (mapped["IBP000"], mapped["IBP101"], mapped["IBP103"], mapped["IBP901"]) == ("E9000", "E9101", "W9103", "I9901")


def test_cfn_lint_loads_the_rules_from_the_module_name():
    from cfnlint.rules import CloudFormationLintRule, Rules

    rules = Rules.create_from_module("ibpolicy_lint.cfn_lint")
    assert sorted(rules) == sorted(row.cfn_lint for row in plugin.rule_table())
    catalogue = load_catalogue()
    for row in plugin.rule_table():
        rule = rules[row.cfn_lint]
        assert isinstance(rule, CloudFormationLintRule)
        assert rule.severity == {"error": "error", "warning": "warning", "info": "informational"}[row.severity]
        assert rule.shortdesc == catalogue[row.ibpolicy].title
        assert rule.description == " ".join(catalogue[row.ibpolicy].summary.split())
        assert rule.source_url == rule_url(row.ibpolicy)
        assert "ibpolicy-lint" in rule.tags


# --- the same findings as ibpolicy-lint ----------------------------------------------------------

# Templates each tool reads on its own (one template per run, as cfn-lint lints them).
TEMPLATES = sorted(
    path.relative_to(REPO).as_posix()
    for pattern in ("ibp1*/*.yaml", "ibp1*/*.json", "ibp9*/*.yaml", "managed-key-forms/*.*", "unresolved-key/*.yaml")
    for path in FIXTURES.glob(pattern)
    if path.name != "expected.yaml"
) + ["fixtures/same-account-copies/region-copies.yaml", "fixtures/same-account-copies/self-target.yaml"]


@pytest.fixture(scope="module")
def cfn_lint_on_all_templates() -> dict[str, list[dict]]:
    """One cfn-lint run over every template, informational rules included (``-c I``)."""
    code, matches, stderr = run_cfn_lint("-c", "I", "-a", "ibpolicy_lint.cfn_lint", "--", *TEMPLATES)
    assert not any(match["Rule"]["Id"] == "E0002" for match in matches), matches  # a rule raised
    by_file: dict[str, list[dict]] = {template: [] for template in TEMPLATES}
    for match in ours(matches):
        by_file[Path(match["Filename"]).as_posix()].append(match)
    return by_file


@pytest.mark.parametrize("template", TEMPLATES)
def test_matches_are_ibpolicy_lint_findings_at_the_same_place(template, cfn_lint_on_all_templates):
    run = run_cli("--format", "json", template)
    assert run.returncode in (0, 1), run.stderr
    mapped = {row.ibpolicy: row.cfn_lint for row in plugin.rule_table()}
    expected = sorted(
        (mapped[f["rule"]], f["line"], f["column"], f["end_line"], f["end_column"]) for f in run.findings if f["rule"] in mapped
    )
    found = cfn_lint_on_all_templates[template]
    assert sorted(map(_where, found)) == expected
    messages = {(mapped[f["rule"]], f["line"]): f["message"] for f in run.findings}
    for match in found:
        assert match["Message"].startswith(messages[(match["Rule"]["Id"], match["Location"]["Start"]["LineNumber"])])
        assert match["Location"]["Path"][:1] == ["Resources"]


def test_the_comparison_covers_errors_warnings_and_infos(cfn_lint_on_all_templates):
    ids = {match["Rule"]["Id"] for matches in cfn_lint_on_all_templates.values() for match in matches}
    assert {"E9101", "E9102", "W9103", "E9107", "W9109", "I9901"} <= ids
    # The fixed template's only remark is that its target account is not in the scan (info).
    good = cfn_lint_on_all_templates[GOOD.relative_to(REPO).as_posix()]
    assert {match["Rule"]["Id"] for match in good} <= {"I9903"}


def test_recipe_managed_key_is_e9101_at_the_kms_key_line():
    code, matches, stderr = run_cfn_lint("-a", "ibpolicy_lint.cfn_lint", "--", str(BAD.relative_to(REPO)))
    (match,) = ours(matches)
    assert _where(match)[:3] == ("E9101", 16, 23)
    assert match["Level"] == "Error"
    assert match["Location"]["Path"] == ["Resources", "GoldenRecipe", "Properties", "BlockDeviceMappings", 0, "Ebs", "KmsKeyId"]
    assert code & 2  # cfn-lint's exit bit for errors


def test_a_finding_lowered_by_a_condition_keeps_its_rule_id_and_says_so():
    template = "fixtures/managed-key-forms/if-branch.yaml"
    (finding,) = run_cli("--format", "json", "--ignore", "IBP903", template).findings
    assert (finding["rule"], finding["severity"]) == ("IBP101", "warning")
    code, matches, stderr = run_cfn_lint("-a", "ibpolicy_lint.cfn_lint", "--", template)
    (match,) = ours(matches)
    assert _where(match)[:2] == ("E9101", finding["line"])
    assert match["Level"] == "Error"  # cfn-lint takes the level from the ID
    assert match["Message"] == finding["message"] + " (ibpolicy-lint severity: warning)"
    assert match["Location"]["Path"][-3:] == ["KmsKeyId", "Fn::If", 1]


def test_piped_template_is_not_checked_and_does_not_fail():
    code, matches, stderr = run_cfn_lint("-a", "ibpolicy_lint.cfn_lint", stdin=BAD.read_text(encoding="utf-8"))
    assert ours(matches) == []
    assert not any(match["Rule"]["Id"] == "E0002" for match in matches), matches


def test_each_template_is_scanned_once_for_all_rules(tmp_path):
    """The real scan, counted: fourteen rules, one scan per template."""
    counter = tmp_path / "count"
    code = (
        "import sys, ibpolicy_lint.cfn_lint as plugin\n"
        "real = plugin.scan\n"
        "calls = []\n"
        "def counted(options):\n"
        "    calls.append(options.paths)\n"
        "    return real(options)\n"
        "plugin.scan = counted\n"
        "from cfnlint.runner import main\n"
        "sys.argv = ['cfn-lint', '-a', 'ibpolicy_lint.cfn_lint', '--', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        f"    open({str(counter)!r}, 'w').write(repr(len(calls)))\n"
    )
    templates = [str(BAD.relative_to(REPO)), str(GOOD.relative_to(REPO))]
    subprocess.run([sys.executable, "-c", code, *templates], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert counter.read_text() == "2"


# --- cfn-lint's ignore mechanisms --------------------------------------------------------------


@pytest.mark.parametrize("ignore", ["E9101", "E9"])
def test_ignore_checks_option(ignore):
    code, matches, stderr = run_cfn_lint("-a", "ibpolicy_lint.cfn_lint", "--ignore-checks", ignore, "--", str(BAD))
    assert ours(matches) == []
    assert code == 0


def _with_metadata(tmp_path: Path, before: str, metadata: str) -> Path:
    text = BAD.read_text(encoding="utf-8")
    assert before in text
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(before, before + metadata, 1), encoding="utf-8")
    return path


TEMPLATE_IGNORE = "Metadata:\n  cfn-lint:\n    config:\n      ignore_checks: [E9101]\n"


def test_template_metadata_ignore_checks(tmp_path):
    template = _with_metadata(tmp_path, 'AWSTemplateFormatVersion: "2010-09-09"\n', TEMPLATE_IGNORE)
    code, matches, stderr = run_cfn_lint("-a", "ibpolicy_lint.cfn_lint", "--", template.name, cwd=tmp_path)
    assert ours(matches) == []


RESOURCE_IGNORE = "    Metadata:\n      cfn-lint:\n        config:\n          ignore_checks: [E9101]\n"


def test_resource_metadata_ignore_checks_on_the_resource_at_fault(tmp_path):
    template = _with_metadata(tmp_path, "    Type: AWS::ImageBuilder::ImageRecipe\n", RESOURCE_IGNORE)
    code, matches, stderr = run_cfn_lint("-a", "ibpolicy_lint.cfn_lint", "--", template.name, cwd=tmp_path)
    assert ours(matches) == []


def test_resource_metadata_ignore_checks_on_another_resource_does_not_hide_it(tmp_path):
    template = _with_metadata(tmp_path, "    Type: AWS::ImageBuilder::DistributionConfiguration\n", RESOURCE_IGNORE)
    code, matches, stderr = run_cfn_lint("-a", "ibpolicy_lint.cfn_lint", "--", template.name, cwd=tmp_path)
    assert [_where(match)[:2] for match in ours(matches)] == [("E9101", 16)]


def test_cfnlintrc_append_rules(tmp_path):
    (tmp_path / "template.yaml").write_text(BAD.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / ".cfnlintrc").write_text("append_rules:\n  - ibpolicy_lint.cfn_lint\n", encoding="utf-8")
    code, matches, stderr = run_cfn_lint("template.yaml", cwd=tmp_path)
    assert [_where(match)[:3] for match in ours(matches)] == [("E9101", 16, 23)]


# --- parameters --------------------------------------------------------------------------------


def test_template_defaults_without_parameters():
    code, matches, stderr = run_cfn_lint("-a", "ibpolicy_lint.cfn_lint", "--", "pipeline.yaml", cwd=OVERRIDE)
    assert ours(matches) == []


def _override_finding() -> dict:
    run = run_cli(
        "--format", "json", "--ignore", "IBP903", "--parameter-file", "prod-parameters.json", "pipeline.yaml", cwd=OVERRIDE
    )
    (finding,) = run.findings
    assert finding["rule"] == "IBP102"
    return finding


def test_parameters_option_overrides_the_default():
    finding = _override_finding()
    code, matches, stderr = run_cfn_lint(
        "-a", "ibpolicy_lint.cfn_lint", "--parameters", f"DistributionKey={MANAGED_EBS}", "--", "pipeline.yaml", cwd=OVERRIDE
    )
    (match,) = ours(matches)
    assert _where(match) == ("E9102", finding["line"], finding["column"], finding["end_line"], finding["end_column"])
    assert "set in cfn-lint --parameters" in match["Message"]


def test_parameter_files_option_overrides_the_default():
    finding = _override_finding()
    code, matches, stderr = run_cfn_lint(
        "-a", "ibpolicy_lint.cfn_lint", "--parameter-files", "prod-parameters.json", "--", "pipeline.yaml", cwd=OVERRIDE
    )
    (match,) = ours(matches)
    assert _where(match) == ("E9102", finding["line"], finding["column"], finding["end_line"], finding["end_column"])
    assert match["Message"] == finding["message"]


# --- ibpolicy-lint itself never loads cfn-lint ---------------------------------------------------


def test_the_command_line_does_not_import_cfn_lint(tmp_path):
    code = (
        "import json, sys\n"
        "import ibpolicy_lint, ibpolicy_lint.cli\n"
        f"arguments = ['--format', 'json', '--output-file', {str(tmp_path / 'report.json')!r}, {str(BAD)!r}]\n"
        "status = ibpolicy_lint.cli.main(arguments)\n"
        "print(json.dumps([status, sorted(name for name in sys.modules if name.split('.')[0] == 'cfnlint')]))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    status, loaded = json.loads(completed.stdout)
    assert status == 1  # the scan ran and found IBP101
    assert loaded == []


def test_version_does_not_import_cfn_lint():
    command = [sys.executable, "-X", "importtime", "-m", "ibpolicy_lint", "--version"]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if line.startswith("import time:")]
    assert "ibpolicy_lint" in imported
    assert not [name for name in imported if name.split(".")[0] == "cfnlint"]
