"""The shortcuts that make scans fast never change what they find."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, run_cli

SCENARIOS = sorted(path.parent for path in FIXTURES.rglob("expected.yaml"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.relative_to(FIXTURES).as_posix() for s in SCENARIOS])
def test_the_prefilter_changes_no_finding(scenario):
    """Terraform folders and templates that name no resource type a rule reads are not fully parsed."""
    fast = run_cli("--format", "json", ".", cwd=scenario)
    full = run_cli("--format", "json", "--no-prefilter", ".", cwd=scenario)
    assert fast.findings == full.findings
