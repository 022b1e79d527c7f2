"""Configuration files and suppressions, through the real command line."""

from __future__ import annotations

import shutil

import pytest

from conftest import FIXTURES, run_cli

BAD = FIXTURES / "ibp101-recipe-managed-key" / "bad.yaml"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "infra").mkdir()
    shutil.copy(BAD, tmp_path / "infra" / "pipeline.yaml")
    return tmp_path


def test_no_configuration_reports_everything(project):
    assert run_cli("--format", "json", cwd=project).rules == ["IBP101", "IBP903"]


def test_yaml_configuration_select_ignore_and_fail_on(project):
    (project / ".ibpolicy-lint.yaml").write_text("ignore: [IBP9]\nfail-on: never\n")
    run = run_cli("--format", "json", cwd=project)
    assert run.rules == ["IBP101"] and run.returncode == 0
    assert run_cli("--format", "json", "--fail-on", "error", cwd=project).returncode == 1  # the command line wins


def test_pyproject_table_is_found_upward(project):
    (project / "pyproject.toml").write_text('[project]\nname = "infra"\n\n[tool.ibpolicy-lint]\nselect = ["IBP9"]\n')
    assert run_cli("--format", "json", ".", cwd=project / "infra").rules == ["IBP903"]


def test_exclude_and_per_path_ignores_are_relative_to_the_configuration(project):
    (project / "legacy").mkdir()
    shutil.copy(BAD, project / "legacy" / "old.yaml")
    (project / ".ibpolicy-lint.yaml").write_text('exclude: ["legacy/**"]\nper-path-ignores:\n  "infra/**": [IBP903]\n')
    run = run_cli("--format", "json", ".", cwd=project / "infra")
    assert [(f["rule"], f["file"]) for f in run.findings] == [("IBP101", "pipeline.yaml")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("bogus: 1\n", "unknown key 'bogus'"),
        ("fail-on: sometimes\n", "fail-on: 'sometimes' is not one of"),
        ('accounts:\n  "12345": {paths: [x]}\n', "accounts"),
        ('accounts:\n  "111122223333": {name: prod}\n', "'paths' is a required property"),
        ("select: [IBP7]\n", "IBP7 matches no rule"),
        ("select: IBP1\n", "select: 'IBP1' is not of type 'array'"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_invalid_configuration_is_exit_2_with_one_line(project, text, message):
    (project / ".ibpolicy-lint.yaml").write_text(text)
    run = run_cli(cwd=project)
    assert run.returncode == 2
    assert run.stdout == ""
    assert message in run.stderr and ".ibpolicy-lint.yaml" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_explicit_config_file_must_exist(project):
    run = run_cli("--config", "missing.yaml", cwd=project)
    assert run.returncode == 2 and "cannot read missing.yaml" in run.stderr


def test_accounts_keep_leading_zero_account_ids(project):
    """An unquoted 012345670123 is octal to YAML 1.1 (1402433619); the account must still be 012345670123."""
    pipeline = project / "infra" / "pipeline.yaml"
    text = pipeline.read_text()
    assert '- "111122223333"' in text
    pipeline.write_text(text.replace('- "111122223333"', '- "012345670123"'))
    assert "IBP903" in run_cli("--format", "json", cwd=project).rules  # the target account's sources are not in the scan
    (project / ".ibpolicy-lint.yaml").write_text('accounts:\n  012345670123: {name: octal-trap, paths: ["infra/**"]}\n')
    assert "IBP903" not in run_cli("--format", "json", cwd=project).rules


def test_a_suppression_is_not_stale_because_its_rule_is_not_selected(project):
    text = (project / "infra" / "pipeline.yaml").read_text()
    text = text.replace("KmsKeyId: alias/aws/ebs", "KmsKeyId: alias/aws/ebs  # ibpolicy-lint: ignore[IBP101] sandbox only")
    (project / "infra" / "pipeline.yaml").write_text(text)
    assert run_cli("--format", "json", "--select", "IBP001,IBP903", cwd=project).rules == ["IBP903"]
