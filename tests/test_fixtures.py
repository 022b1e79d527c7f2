"""Every scenario in fixtures/ through the real command line, compared with its expected.yaml."""

from __future__ import annotations

import pytest
import yaml

from conftest import SCENARIO_IDS, SCENARIOS, run_cli


def _key(finding: dict) -> tuple:
    return (finding["rule"], finding["severity"], finding["file"], finding["line"])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario(scenario):
    expected = yaml.safe_load((scenario / "expected.yaml").read_text(encoding="utf-8"))
    run = run_cli("--format", "json", ".", *expected.get("args", []), cwd=scenario)
    assert run.returncode in (0, 1), run.stderr
    assert run.stderr == ""
    found = run.findings
    wanted = expected.get("findings") or []
    assert sorted(map(_key, found)) == sorted(map(_key, wanted)), "\n".join(f["message"] for f in found)
    for item in wanted:
        if "contains" in item:
            match = next(f for f in found if _key(f) == _key(item))
            assert item["contains"] in match["message"]
    blocking = any(f["severity"] in ("error", "warning") for f in found)
    assert run.returncode == (1 if blocking else 0)
    # The pre-filter (Terraform folders and templates that name no resource type a rule reads are not
    # fully parsed) is a shortcut: without it, the scan finds exactly the same.
    full = run_cli("--format", "json", "--no-prefilter", ".", *expected.get("args", []), cwd=scenario)
    assert full.findings == found


def test_scenarios_exist_for_every_key_rule():
    covered = {
        item["rule"]
        for scenario in SCENARIOS
        for item in yaml.safe_load((scenario / "expected.yaml").read_text(encoding="utf-8")).get("findings") or []
    }
    # IBP104 needs account-level EBS encryption, which only Terraform can declare.
    assert {f"IBP1{n:02d}" for n in range(1, 12)} - {"IBP104"} <= covered
