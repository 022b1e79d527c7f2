"""The benchmark's own virtual environments, cached under bench/.venvs/ (git-ignored).

* ``peers``: cfn-lint and checkov, pinned, so numbers from different days compare.
* ``project``: this repository installed with ``pip install .``, so the measured ibpolicy-lint is the
  installed one (its byte code compiled by pip, its data files where a user gets them). It is rebuilt
  whenever pyproject.toml, ibpolicy_lint/**/*.py or rules/* change.

A finished environment holds a stamp file; an environment without a matching stamp (interrupted
install, other pins, other sources) is deleted and built again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PEER_REQUIREMENTS = ("cfn-lint==1.58.0", "checkov==3.3.30")
STAMP = "bench-stamp.json"


@dataclass
class Venv:
    path: Path
    rebuilt: bool
    build_s: float

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name


def source_hash(repo: Path) -> str:
    """What the installed project depends on: its metadata, its code and its rule catalogue."""
    files = [repo / "pyproject.toml", *sorted((repo / "ibpolicy_lint").rglob("*.py")), *sorted((repo / "rules").rglob("*"))]
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _read_stamp(venv: Path) -> dict | None:
    try:
        return json.loads((venv / STAMP).read_text())
    except (OSError, ValueError):
        return None


def _build(venv: Path, stamp: dict, pip_args: list[str], log: Path) -> float:
    print(f"[bench] building {venv} (pip output in {log})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=out, stderr=subprocess.STDOUT)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", *pip_args],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    (venv / STAMP).write_text(json.dumps(stamp, indent=2))
    return round(time.perf_counter() - started, 1)


def ensure_peers(root: Path) -> Venv:
    venv = root / "peers"
    stamp = {"requirements": list(PEER_REQUIREMENTS), "python": sys.version.split()[0]}
    if _read_stamp(venv) == stamp:
        return Venv(venv, rebuilt=False, build_s=0.0)
    seconds = _build(venv, stamp, list(PEER_REQUIREMENTS), root / "peers-pip.log")
    return Venv(venv, rebuilt=True, build_s=seconds)


def ensure_project(root: Path, repo: Path) -> Venv:
    venv = root / "project"
    stamp = {"source_sha256": source_hash(repo), "python": sys.version.split()[0]}
    if _read_stamp(venv) == stamp:
        return Venv(venv, rebuilt=False, build_s=0.0)
    seconds = _build(venv, stamp, [str(repo)], root / "project-pip.log")
    return Venv(venv, rebuilt=True, build_s=seconds)


def ensure_tool(venv: Venv, requirement: str, module: str) -> None:
    """Add a helper (the profiler) to a venv; the linter never imports it, so timings are unaffected."""
    python = str(venv.bin("python"))
    if subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement], check=True)
