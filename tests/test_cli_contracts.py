"""Contracts at the edges, through the real command line and the real cfn-lint: IBP000 and --select, a closed
pipe, rule IDs in the configuration, configuration and parameter-file errors, the cfn-lint plugin
reading the configuration, and the cache key's dependencies."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, mark_cache_entries, run_cfn_lint, run_cli

BAD = FIXTURES / "ibp101-recipe-managed-key" / "bad.yaml"
GOOD = FIXTURES / "ibp101-recipe-managed-key" / "good.yaml"
BROKEN = 'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  Recipe: {Type: AWS::ImageBuilder::ImageRecipe\n'


def one_line_error(run, *fragments: str) -> None:
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr, run.stderr
    for fragment in fragments:
        assert fragment in run.stderr


@pytest.fixture
def broken(tmp_path) -> Path:
    (tmp_path / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    return tmp_path


# --- IBP000 survives --select ------------------------------------------------------------------


def test_select_keeps_ibp000_so_a_broken_template_still_fails(broken):
    run = run_cli("--format", "json", "--select", "IBP1", "broken.yaml", cwd=broken)
    assert run.rules == ["IBP000"] and run.returncode == 1
    text = run_cli("--select", "IBP1", "broken.yaml", cwd=broken)
    assert "No findings" not in text.stdout and text.returncode == 1


def test_the_configurations_select_keeps_ibp000_too(broken):
    (broken / ".ibpolicy-lint.yaml").write_text("select: [IBP1]\n")
    run = run_cli("--format", "json", cwd=broken)
    assert run.rules == ["IBP000"] and run.returncode == 1


@pytest.mark.parametrize("ignore", ["IBP000", "IBP0"])
def test_only_an_ignore_drops_ibp000(broken, ignore):
    run = run_cli("--format", "json", "--select", "IBP1", "--ignore", ignore, "broken.yaml", cwd=broken)
    assert run.rules == [] and run.returncode == 0


def test_select_still_drops_other_rules_next_to_ibp000(broken):
    shutil.copy(BAD, broken / "pipeline.yaml")
    everything = run_cli("--format", "json", cwd=broken).rules
    assert {"IBP000", "IBP101", "IBP903"} <= set(everything)
    assert run_cli("--format", "json", "--select", "IBP9", cwd=broken).rules == ["IBP000", "IBP903"]


# --- a reader that stops early -----------------------------------------------------------------


def _into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """The command with its standard output a pipe nobody reads any more (``| head`` after it exited)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [sys.executable, "-m", "ibpolicy_lint", "--no-cache", *args],
            cwd=REPO,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    finally:
        os.close(writer)


def test_a_closed_pipe_keeps_the_findings_exit_code():
    completed = _into_a_closed_pipe(str(BAD))
    assert completed.returncode == 1
    assert completed.stderr == ""


def test_a_closed_pipe_on_a_clean_scan_is_still_success():
    completed = _into_a_closed_pipe("--fail-on", "error", str(GOOD))
    assert completed.returncode == 0
    assert completed.stderr == ""


# --- rule IDs in the configuration ---------------------------------------------------------------


def test_per_path_ignores_names_only_known_rules(tmp_path):
    shutil.copy(BAD, tmp_path / "pipeline.yaml")
    (tmp_path / ".ibpolicy-lint.yaml").write_text('per-path-ignores:\n  "x/**": [IBP999]\n')
    one_line_error(run_cli(cwd=tmp_path), ".ibpolicy-lint.yaml", "per-path-ignores", "x/**", "IBP999 matches no rule")


def test_per_path_ignores_prefixes_still_work(tmp_path):
    shutil.copy(BAD, tmp_path / "pipeline.yaml")
    (tmp_path / ".ibpolicy-lint.yaml").write_text('per-path-ignores:\n  "*.yaml": [IBP9, ibp101]\n')
    run = run_cli("--format", "json", cwd=tmp_path)
    assert run.rules == [] and run.returncode == 0


@pytest.mark.parametrize("key", ["select", "ignore"])
def test_select_and_ignore_in_pyproject_are_checked_too(tmp_path, key):
    (tmp_path / "pyproject.toml").write_text(f'[tool.ibpolicy-lint]\n{key} = ["IBP7"]\n')
    one_line_error(run_cli(cwd=tmp_path), "pyproject.toml", f"{key}: IBP7 matches no rule")


# --- configuration and parameter files that cannot be used ----------------------------------------


@pytest.mark.parametrize("text", ["tool = 3\n", 'tool = "ibpolicy-lint"\n', "tool = [1]\n"])
def test_a_pyproject_whose_tool_is_not_a_table_is_a_usage_error(tmp_path, text):
    (tmp_path / "pyproject.toml").write_text(text)
    one_line_error(run_cli("--config", "pyproject.toml", str(BAD), cwd=tmp_path), "pyproject.toml", "tool")


def test_a_parameter_file_that_is_not_utf8_names_the_file(tmp_path):
    (tmp_path / "params.json").write_bytes(b'[{"ParameterKey": "Key", "ParameterValue": "caf\xe9"}]')
    one_line_error(run_cli("--parameter-file", "params.json", str(BAD), cwd=tmp_path), "parameter file params.json", "UTF-8")


def test_a_utf16_parameter_file_is_read(tmp_path):
    """What PowerShell's ``>`` writes: UTF-16 with a byte order mark, which JSON allows."""
    override = FIXTURES / "parameter-file-override"
    utf8 = run_cli("--format", "json", "--parameter-file", "prod-parameters.json", "pipeline.yaml", cwd=override)
    (tmp_path / "params.json").write_bytes((override / "prod-parameters.json").read_text(encoding="utf-8").encode("utf-16"))
    utf16 = run_cli("--format", "json", "--parameter-file", str(tmp_path / "params.json"), "pipeline.yaml", cwd=override)
    assert utf16.returncode == utf8.returncode and "IBP102" in utf16.rules
    assert [(f["rule"], f["line"]) for f in utf16.findings] == [(f["rule"], f["line"]) for f in utf8.findings]


def test_no_prefilter_help_names_cloudformation_too():
    run = run_cli("--help")
    assert run.returncode == 0
    help_text = " ".join(run.stdout.split())
    assert "--no-prefilter fully parse every CloudFormation template and Terraform folder" in help_text


# --- the cache key includes the parsers ----------------------------------------------------------


def test_another_python_hcl2_installation_does_not_reuse_the_cache(tmp_path):
    cache = tmp_path / "cache"
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(BAD, project / "pipeline.yaml")
    env = {"IBPOLICY_LINT_CACHE_DIR": str(cache)}
    entries = lambda: sorted(path.name for path in (cache / "scans").glob("*.json"))  # noqa: E731

    first = run_cli("--format", "json", cwd=project, env=env)
    assert len(entries()) == 1 and first.findings
    # The same installation reuses the entry: it reports what was stored, here marked, not a new scan.
    assert mark_cache_entries(cache, "[stored] ") == len(first.findings)
    reused = run_cli("--format", "json", cwd=project, env=env)
    assert [finding["message"] for finding in reused.findings] == ["[stored] " + finding["message"] for finding in first.findings]
    assert len(entries()) == 1

    # A different python-hcl2 on the path (never imported by this CloudFormation-only scan).
    shadow = tmp_path / "shadow" / "hcl2"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not imported by a CloudFormation scan')\n")
    pythonpath = os.pathsep.join([str(shadow.parent), str(REPO), os.environ.get("PYTHONPATH", "")])
    second = run_cli("--format", "json", cwd=project, env={**env, "PYTHONPATH": pythonpath})
    assert second.stdout == first.stdout
    assert len(entries()) == 2


# --- the cfn-lint plugin reads the configuration ------------------------------------------------


def _cfn_lint(*args: str, cwd: Path) -> tuple[int, list[dict]]:
    """The real cfn-lint, informational rules included (``-c I``), with the plugin; fails the test if it crashed."""
    code, matches, _ = run_cfn_lint("-c", "I", "-a", "ibpolicy_lint.cfn_lint", *args, cwd=cwd)
    return code, matches


def _ids(matches: list[dict]) -> list[str]:
    """Our rules' IDs (E9101, I9903) and E0002 (a rule raised); cfn-lint's own rules are left out."""
    return sorted(match["Rule"]["Id"] for match in matches if re.match(r"^([EWI]9\d{3}|E0002)$", match["Rule"]["Id"]))


@pytest.fixture
def template_project(tmp_path) -> Path:
    shutil.copy(BAD, tmp_path / "template.yaml")
    return tmp_path


def test_cfn_lint_plugin_without_configuration(template_project):
    code, matches = _cfn_lint("--", "template.yaml", cwd=template_project)
    assert _ids(matches) == ["E9101", "I9903"]


@pytest.mark.parametrize(
    "config, expected",
    [
        ("ignore: [IBP101]\n", ["I9903"]),
        ("select: [IBP9]\n", ["I9903"]),
        ('per-path-ignores:\n  "*.yaml": [IBP9]\n', ["E9101"]),
        ('exclude: ["template.yaml"]\n', []),
    ],
)
def test_cfn_lint_plugin_applies_the_configuration_as_the_command_does(template_project, config, expected):
    (template_project / ".ibpolicy-lint.yaml").write_text(config)
    code, matches = _cfn_lint("--", "template.yaml", cwd=template_project)
    assert _ids(matches) == expected
    assert (code == 0) == (matches == []), (code, matches)  # it ran: no match (an excluded file) exits 0, not 1
    command = run_cli("--format", "json", "template.yaml", cwd=template_project)
    mapped = {"IBP101": "E9101", "IBP903": "I9903"}
    assert sorted(mapped[rule] for rule in command.rules) == expected


def test_cfn_lint_plugin_finds_the_configuration_upward(template_project):
    (template_project / ".ibpolicy-lint.yaml").write_text("ignore: [IBP101]\n")
    (template_project / "infra").mkdir()
    shutil.move(template_project / "template.yaml", template_project / "infra" / "template.yaml")
    code, matches = _cfn_lint("--", "template.yaml", cwd=template_project / "infra")
    assert _ids(matches) == ["I9903"]


def test_cfn_lint_plugin_reports_a_configuration_error_once_per_template(template_project):
    shutil.copy(GOOD, template_project / "other.yaml")
    (template_project / ".ibpolicy-lint.yaml").write_text("bogus: 1\n")
    code, matches = _cfn_lint("--", "template.yaml", "other.yaml", cwd=template_project)
    assert _ids(matches) == ["E0002", "E0002"]
    assert sorted(match["Filename"] for match in matches if match["Rule"]["Id"] == "E0002") == ["other.yaml", "template.yaml"]
    for match in (match for match in matches if match["Rule"]["Id"] == "E0002"):
        assert "ibpolicy-lint could not check this template" in match["Message"]
        assert ".ibpolicy-lint.yaml: unknown key 'bogus'" in match["Message"].replace("\\'", "'")
    assert code & 2  # cfn-lint's exit bit for errors
