"""Helpers shared by the tests: run the real command line; build values the checks consult."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ibpolicy_lint.source import Span
from ibpolicy_lint.values import Choice

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
CORPUS = REPO.parent / "shared" / "corpus"
# Every fixture scenario (a folder with an expected.yaml), and the test IDs to parametrize over them with.
SCENARIOS = sorted(path.parent for path in FIXTURES.rglob("expected.yaml"))
SCENARIO_IDS = [scenario.relative_to(FIXTURES).as_posix() for scenario in SCENARIOS]
# Where values built by the tests stand.
SPAN = Span.at("t.yaml", 1)


def choice(subject: str, yes, no) -> Choice:
    """A decision on ``subject``: ``yes`` when it is true, ``no`` when it is false."""
    return Choice(subject=subject, branches=(("true", yes), ("false", no)), span=SPAN)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict:
        return json.loads(self.stdout)

    @property
    def findings(self) -> list[dict]:
        return self.report["findings"]

    @property
    def rules(self) -> list[str]:
        """The rule of every finding, sorted."""
        return sorted(finding["rule"] for finding in self.findings)


def run_cli(*args: str, cwd: Path | str | None = None, timeout: float = 120, env: dict | None = None) -> Run:
    """Run ``ibpolicy-lint`` as a user would (``python -m ibpolicy_lint``), in ``cwd``, with extra ``env``."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    env.pop("IBPOLICY_LINT_DEBUG", None)
    completed = subprocess.run(
        [sys.executable, "-m", "ibpolicy_lint", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Scans the tests run (and the pre-commit hooks they start) cache under a temporary folder, not ~/.cache."""
    os.environ["IBPOLICY_LINT_CACHE_DIR"] = str(tmp_path_factory.mktemp("scan-cache"))
