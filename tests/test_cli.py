"""The command-line contract (DESIGN.md section 2) through the real CLI."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES, REPO, run_cli

BAD = "fixtures/ibp101-recipe-managed-key/bad.yaml"
GOOD = "fixtures/ibp101-recipe-managed-key/good.yaml"
# The target account of these templates is not in the scan: IBP903 (info) says what it must contain.
# Tests about one finding leave that aside.
QUIET = ("--ignore", "IBP903")


def test_json_report_follows_the_contract():
    run = run_cli("--format", "json", *QUIET, BAD)
    assert run.returncode == 1
    report = run.report
    assert report["tool"] == "ibpolicy-lint"
    assert report["version"] == run_cli("--version").stdout.split()[-1]
    (finding,) = report["findings"]
    assert list(finding) == [
        "rule", "severity", "message", "file", "line", "column", "end_line", "end_column",
        "resource", "predicts", "fix",
    ]  # fmt: skip
    assert finding["rule"] == "IBP101"
    assert finding["file"] == BAD
    assert (finding["line"], finding["column"], finding["end_line"], finding["end_column"]) == (16, 23, 16, 36)
    assert finding["resource"] == "GoldenRecipe"
    assert "Snapshots encrypted with the AWS Managed CMK can't be shared" in finding["predicts"]
    assert finding["fix"]
    assert report["summary"] == {"files": 1, "error": 1, "warning": 0, "info": 0}


def test_text_report_reads_like_a_compiler():
    run = run_cli(*QUIET, BAD)
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"{BAD}:16:23: IBP101 error: GoldenRecipe volume /dev/xvda")
    assert lines[1].strip().startswith("16 |") and "KmsKeyId: alias/aws/ebs" in lines[1]
    assert lines[2].endswith("^" * len("alias/aws/ebs"))
    assert any(line.strip().startswith("= prevents: EC2 Client Error") for line in lines)
    assert any(line.strip().startswith("= fix:") for line in lines)
    assert lines[-1] == "Found 1 finding (1 error, 0 warning, 0 info) in 1 file."


def test_clean_template_exits_zero():
    run = run_cli(*QUIET, GOOD)
    assert run.returncode == 0
    assert run.stdout.strip() == "No findings in 1 file."


@pytest.mark.parametrize(
    "fail_on, code",
    [("error", 1), ("warning", 1), ("info", 1), ("never", 0)],
)
def test_fail_on_threshold_with_an_error(fail_on, code):
    assert run_cli("--fail-on", fail_on, BAD).returncode == code


def test_info_findings_do_not_fail_by_default():
    run = run_cli("--format", "json", "fixtures/unresolved-key")
    assert {f["severity"] for f in run.findings} == {"info"}
    assert run.returncode == 0
    assert run_cli("--fail-on", "info", "fixtures/unresolved-key").returncode == 1


def test_select_and_ignore_by_id_and_prefix():
    everything = {f["rule"] for f in run_cli("--format", "json", "fixtures").findings}
    assert {"IBP000", "IBP101", "IBP102", "IBP901"} <= everything
    only_keys = {f["rule"] for f in run_cli("--format", "json", "--select", "IBP1", "fixtures").findings}
    assert only_keys == {rule for rule in everything if rule.startswith("IBP1") or rule == "IBP000"}  # IBP000 always stays
    without = {f["rule"] for f in run_cli("--format", "json", "--ignore", "IBP101,IBP9", "fixtures").findings}
    assert without == {rule for rule in everything if rule != "IBP101" and not rule.startswith("IBP9")}


def test_ignored_rules_do_not_fail_the_run():
    assert run_cli("--ignore", "IBP101,IBP902", BAD).returncode == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--select", "IBP7"], "--select: IBP7 matches no rule"),
        (["--format", "xml"], "invalid choice: 'xml'"),
        (["--fail-on", "sometimes"], "invalid choice: 'sometimes'"),
        (["--parameter-file", "no-such-file.json"], "cannot read parameter file no-such-file.json"),
        (["--explain", "IBP999"], "no rule IBP999"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message):
    run = run_cli(*args, BAD)
    assert run.returncode == 2
    assert run.stdout == ""
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_malformed_parameter_file_is_a_usage_error(tmp_path):
    bad = tmp_path / "params.json"
    bad.write_text('{"DistributionKey": "x"}')
    run = run_cli("--parameter-file", str(bad), BAD)
    assert run.returncode == 2
    assert "expected [" in run.stderr


def test_parameter_file_in_parameters_form(tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"Parameters": {"DistributionKey": "alias/aws/ebs"}}))
    run = run_cli("--format", "json", *QUIET, "--parameter-file", str(params), "fixtures/parameter-file-override")
    # An alias name on a cross-account copy: the AWS managed key (IBP102) and not an ARN (IBP107).
    assert sorted(f["rule"] for f in run.findings) == ["IBP102", "IBP107"]


def test_later_parameter_files_win(tmp_path):
    first = tmp_path / "first.json"
    second = tmp_path / "second.json"
    first.write_text(json.dumps([{"ParameterKey": "DistributionKey", "ParameterValue": "alias/aws/ebs"}]))
    second.write_text(
        json.dumps([{"ParameterKey": "DistributionKey", "ParameterValue": "arn:aws:kms:us-east-1:999988887777:alias/golden"}])
    )
    args = [
        "--format",
        "json",
        *QUIET,
        "--parameter-file",
        str(first),
        "--parameter-file",
        str(second),
        "fixtures/parameter-file-override",
    ]
    assert run_cli(*args).findings == []


def test_output_file(tmp_path):
    target = tmp_path / "report.json"
    run = run_cli("--format", "json", "--output-file", str(target), BAD)
    assert run.returncode == 1
    assert run.stdout == ""
    assert json.loads(target.read_text())["findings"][0]["rule"] == "IBP101"


def test_output_is_deterministic_and_sorted():
    first = run_cli("--format", "json", "fixtures").stdout
    assert first == run_cli("--format", "json", "fixtures").stdout
    findings = json.loads(first)["findings"]
    keys = [(f["file"], f["line"], f["column"], f["rule"]) for f in findings]
    assert keys == sorted(keys)


def test_paths_are_relative_to_the_current_directory():
    run = run_cli("--format", "json", "ibp101-recipe-managed-key/bad.yaml", cwd=FIXTURES)
    assert run.findings[0]["file"] == "ibp101-recipe-managed-key/bad.yaml"
    absolute = run_cli("--format", "json", str(REPO / BAD))
    assert absolute.findings[0]["file"] == BAD


def test_default_path_is_the_current_directory():
    run = run_cli("--format", "json", cwd=FIXTURES / "ibp101-recipe-managed-key")
    assert {f["file"] for f in run.findings} == {"bad.yaml", "bad.json"}


def test_missing_path_is_reported_and_the_rest_still_scanned():
    run = run_cli("--format", "json", *QUIET, "no-such-folder", BAD)
    assert sorted((f["rule"], f["file"]) for f in run.findings) == [("IBP000", "no-such-folder"), ("IBP101", BAD)]
    assert "does not exist" in next(f["message"] for f in run.findings if f["rule"] == "IBP000")


def test_list_rules_and_explain():
    listing = run_cli("--list-rules")
    assert listing.returncode == 0
    ids = [line.split()[0] for line in listing.stdout.splitlines()]
    assert ids == sorted(ids) and "IBP101" in ids and "IBP000" in ids
    explained = run_cli("--explain", "ibp101")
    assert explained.returncode == 0
    text = explained.stdout
    assert text.startswith("IBP101 (error):")
    for heading in (
        "What it detects",
        "The AWS error it prevents",
        "Why",
        "Fix",
        "CloudFormation: fails",
        "CloudFormation: fixed",
    ):
        assert heading in text


def test_version():
    run = run_cli("--version")
    assert run.returncode == 0
    assert run.stdout.startswith("ibpolicy-lint ")
