"""The rule catalogue: valid against its schema, and every documented example does what it says."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, run_cli
from ibpolicy_lint.catalogue import catalogue_errors, load_catalogue
from ibpolicy_lint.checks import all_checks

RULES = load_catalogue()
SUFFIX = {"cloudformation": "template.yaml", "terraform": "main.tf"}
EXAMPLES = [(rule.id, language, kind) for rule in RULES.values() for language in rule.examples for kind in ("bad", "good")]


def test_catalogue_is_valid():
    assert catalogue_errors() == []


def test_every_rule_a_check_reports_is_catalogued():
    reported = {rule for check in all_checks() for rule in check.rules}
    assert reported - set(RULES) == set()


@pytest.mark.parametrize("rule_id, language, kind", EXAMPLES, ids=[f"{r}-{lang}-{k}" for r, lang, k in EXAMPLES])
def test_example(rule_id, language, kind, tmp_path):
    rule = RULES[rule_id]
    pair = rule.examples[language]
    (tmp_path / SUFFIX[language]).write_text(pair[kind], encoding="utf-8")
    run = run_cli("--format", "json", ".", *pair.get("args", []), cwd=tmp_path)
    assert "Traceback" not in run.stderr
    found = [f for f in run.findings if f["rule"] == rule_id]
    if kind == "bad":
        assert found, f"{rule_id} {language} example does not fire: {run.stdout}"
        assert rule.severity in {f["severity"] for f in found}
    else:
        assert not found, f"{rule_id} {language} fixed example still fires: {found}"
        assert run.returncode in (0, 1), run.stderr
        assert not [f for f in run.findings if f["rule"] == "IBP000"], f"{rule_id} {language} fixed example is not read"


def test_readme_rules_table_matches_the_catalogue():
    """README's table of rules: every rule, in catalogue order, with its cfn-lint ID and its severity."""
    from ibpolicy_lint.cfn_lint import rule_table  # imports cfn-lint (a dependency), so only here

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (IBP\d{3}) \| ([EWI]9\d{3}) \| (\w+) \|", readme, re.MULTILINE)
    assert rows == [(row.ibpolicy, row.cfn_lint, RULES[row.ibpolicy].severity) for row in rule_table()]
