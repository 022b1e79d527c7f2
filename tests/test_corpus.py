"""The hand-verdicted public corpus in ../shared/corpus: no error or warning where the verdict is clean.

Skipped when the corpus is not beside the repository (it is other people's code and is not copied in).
"""

from __future__ import annotations

import csv

import pytest

from conftest import CORPUS, run_cli

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
