"""Helpers shared by the tests: run the real command line; build values the checks consult."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
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


def cfn_lint_command() -> list[str]:
    """The installed ``cfn-lint`` console script, run by this interpreter; skips the test without cfn-lint."""
    pytest.importorskip("cfnlint")
    (entry,) = entry_points(group="console_scripts", name="cfn-lint")
    module, function = entry.value.split(":")
    code = f"import sys; from {module} import {function} as main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"
    return [sys.executable, "-c", code]


def run_cfn_lint(*args: str, cwd: Path | str = REPO, stdin: str | None = None) -> tuple[int, list[dict], str]:
    """cfn-lint's exit code, its JSON matches and its stderr; fails the test when cfn-lint crashed.

    cfn-lint's exit code is a set of bit flags (2 error, 4 warning, 8 informational matches); 1 is a crash or a
    usage error. With ``--format json`` it prints a list even when there is no match (``[]``), so an empty or
    other stdout is a failure too, never "no matches".
    """
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(
        [*cfn_lint_command(), "--format", "json", *args],
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    failure = f"cfn-lint exited {completed.returncode}:\n{completed.stderr}\n{completed.stdout[-2000:]}"
    assert not completed.returncode & ~0b1110 and "Traceback" not in completed.stderr, failure
    try:
        matches = json.loads(completed.stdout)
    except ValueError:
        pytest.fail(f"cfn-lint printed no JSON report; {failure}")
    return completed.returncode, matches, completed.stderr


def mark_cache_entries(folder: Path | str, mark: str = "[from the cache] ") -> int:
    """Prefix ``mark`` to the message of every finding stored in the scan cache under ``folder``; the number marked.

    A scan that reuses an entry reports the marked messages; one that scans again reports the real ones, so a
    test can tell a reused entry from a rewritten one (a miss writes a file of the same name).
    """
    marked = 0
    for path in Path(folder).rglob("*.json"):
        entry = json.loads(path.read_text(encoding="utf-8"))
        for finding in entry["findings"]:  # rule, severity, message, span, ... (ibpolicy_lint.cache._record)
            finding[2] = mark + finding[2]
            marked += 1
        path.write_text(json.dumps(entry), encoding="utf-8")
    return marked


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
