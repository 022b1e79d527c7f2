"""The hand-verdicted public corpus in ../shared/corpus: no error or warning where the verdict is clean.

Skipped when the corpus is not beside the repository (it is other people's code and is not copied in).
"""

from __future__ import annotations

import csv

import pytest

from conftest import CORPUS, REPO, run_cli

pytestmark = pytest.mark.skipif(not (CORPUS / "VERDICTS.tsv").exists(), reason="../shared/corpus is not present")


def _verdicts(formats: tuple[str, ...]) -> list[dict]:
    if not (CORPUS / "VERDICTS.tsv").exists():
        return []
    with open(CORPUS / "VERDICTS.tsv", encoding="utf-8") as stream:
        return [row for row in csv.DictReader(stream, delimiter="\t") if row["format"] in formats]


CFN = _verdicts(("cfn-yaml", "cfn-json"))


@pytest.mark.parametrize("row", CFN, ids=[row["local_path"] for row in CFN])
def test_cloudformation_corpus_file(row):
    run = run_cli("--format", "json", str(CORPUS / row["local_path"]))
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    blocking = [f for f in run.findings if f["severity"] in ("error", "warning")]
    if row["verdict"] in ("CLEAN", "CLEAN-NO-XACCT"):
        assert blocking == [], [f["message"] for f in blocking]


def test_whole_corpus_scan_does_not_crash():
    run = run_cli("--format", "json", str(CORPUS))
    assert run.returncode in (0, 1), run.stderr
    assert run.report["summary"]["files"] > 0


TERRAFORM = _verdicts(("tf",))
PROJECTS = sorted({row["local_path"].split("/", 1)[0] for row in TERRAFORM})


@pytest.mark.parametrize("project", PROJECTS)
def test_terraform_corpus_project(project):
    """A folder scan of each project (cross-file variables and modules resolved): clean files stay clean."""
    run = run_cli("--format", "json", str(CORPUS / project))
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    clean = {
        (CORPUS / row["local_path"]).resolve()
        for row in TERRAFORM
        if row["local_path"].startswith(project + "/") and row["verdict"] in ("CLEAN", "CLEAN-NO-XACCT")
    }
    blocking = [f for f in run.findings if f["severity"] in ("error", "warning") and (REPO / f["file"]).resolve() in clean]
    assert blocking == [], [f["message"] for f in blocking]


def test_flag_cond_project_is_reported_when_its_variables_are_set(tmp_path):
    """aws-ia's module: nothing by default; a caller that shares the image without a recipe key gets IBP103."""
    project = CORPUS / "aws-ia__terraform-aws-ec2-image-builder"
    var_file = tmp_path / "share.tfvars"
    var_file.write_text(
        'target_account_ids = ["111122223333"]\n'
        'ami_regions_kms_key = { "us-east-1" = "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab" }\n'
        "imagebuilder_image_recipe_kms_key_arn = null\n"
    )
    quiet = run_cli("--format", "json", str(project))
    assert [f for f in quiet.findings if f["severity"] != "info"] == []
    shared = run_cli("--format", "json", str(project), "--var-file", str(var_file))
    assert ("IBP103", "warning") in {(f["rule"], f["severity"]) for f in shared.findings}
