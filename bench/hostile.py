"""Worst-case cost of one ibpolicy-lint run on hostile input, per class of input (issue 7).

    python bench/hostile.py            # 3 rounds of every class
    python bench/hostile.py --quick    # 1 round

Every input is generated at run time in a temporary folder, one folder per class, by the builders of
tests/hostile_inputs.py (the inputs tests/test_hostile.py asserts on), each holding a copy of
fixtures/ibp101-recipe-managed-key/bad.yaml (``beside.yaml``, IBP101 at line 16) that must still be
reported. Every run is a fresh process of the installed console script (bench/.venvs/project, see
venvs.py) with ``--no-cache --format json``, timed by measure.py (wall, CPU and peak RSS from os.wait4).
Prints a table and writes bench/results/hostile.json. A measurement, not a test: tests/test_hostile.py
asserts the behaviour; this reports what it costs. Exits 0 once it has measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO / "tests")]

import hostile_inputs as build  # noqa: E402
import measure  # noqa: E402
import run as bench  # noqa: E402
import venvs  # noqa: E402

BESIDE_FINDING = ("beside.yaml", "IBP101", 16)
WARM_UP = "fixtures/tf-ibp101-recipe-managed-key"
WALL_FLAG_S, RSS_FLAG_MB = 5.0, 500.0  # issue 7: one file costs at most ~5 s and 500 MB


@dataclass
class Caps:
    """The size caps of the installed linter (limits.py), so that "just under the cap" stays true."""

    document: int
    terraform: int


@dataclass
class Case:
    key: str
    title: str
    build: Callable[[Path, Caps], object]  # writes the inputs into a folder; a str it returns is a note


LOCKED: list[Path] = []  # chmod 000 paths (in the generator process), given their permissions back before clean-up


def unreadable(folder: Path, caps: Caps) -> str | None:
    LOCKED.extend(build.unreadable(folder))
    if build.reads_are_refused(folder / "locked.yaml"):
        return None
    return (
        "running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not stop reads, "
        "so the 'unreadable' files were read like any others"
    )


def nesting(folder: Path, caps: Caps) -> None:
    build.put_all(folder, build.NESTED)


def binary(folder: Path, caps: Caps) -> None:
    build.binary_garbage(folder)
    build.noise_at_the_caps(folder, caps.document, caps.terraform)


def hcl_syntax(folder: Path, caps: Caps) -> None:
    build.truncated_terraform(folder)
    build.hcl_syntax_errors(folder)


def duplicates(folder: Path, caps: Caps) -> None:
    build.duplicate_keys(folder)
    build.argument_set_twice(folder)


CASES = [
    Case("truncated", "1  truncated YAML and JSON templates (every 37th byte)", lambda f, c: build.truncated_documents(f)),
    Case("hcl-syntax", "2  malformed HCL (truncated every 41st byte, stray braces)", hcl_syntax),
    Case("binary", "3  binary noise, token soup and empty files named .yaml/.json/.tf", binary),
    Case("50mb", "4  50 MB .yaml, .json and .tf (refused by the size caps)", lambda f, c: build.fifty_megabytes(f)),
    Case("nesting", "5  10,000 levels of nesting: YAML flow and block, JSON, HCL", nesting),
    Case("alias-bomb", "6  YAML alias bomb (9**9 values)", lambda f, c: build.alias_bomb(f)),
    Case("tf-locals", "7  Terraform locals that double at every step (2**30)", lambda f, c: build.doubling_locals(f)),
    Case(
        "dense-yaml", "8a template just under the size cap: KMS keys", lambda f, c: build.dense_template_resources(f, c.document)
    ),
    Case(
        "dense-yaml-list",
        "8b template just under the size cap: one flow list",
        lambda f, c: build.dense_template_values(f, c.document),
    ),
    Case(
        "dense-tf",
        "9a .tf just under the size cap: aws_kms_key blocks",
        lambda f, c: build.dense_terraform_resources(f, c.terraform),
    ),
    Case("dense-tf-list", "9b .tf just under the size cap: one list", lambda f, c: build.dense_terraform_values(f, c.terraform)),
    Case("fs-hazards", "10 symlink loops, broken links, FIFOs (.yaml and .tf)", lambda f, c: build.file_system_hazards(f)),
    Case("unreadable", "11 unreadable files and folder (chmod 000)", unreadable),
    Case("10k-files", "12 a folder of 10,000 small files", lambda f, c: build.ten_thousand_files(f)),
    Case("duplicates", "13 duplicate keys (YAML, JSON, 10,000 in one mapping, HCL)", duplicates),
]


# ---------------------------------------------------------------- running and reading the reports


def child_env(scratch: Path) -> dict[str, str]:
    """run.py's environment for ibpolicy-lint, without IBPOLICY_LINT_* overrides: the default limits apply."""
    env = bench.child_env(bench.IBP, scratch / "cache")
    return {key: value for key, value in env.items() if not key.startswith("IBPOLICY_LINT_")}


def installed_caps(project: venvs.Venv, env: dict[str, str]) -> Caps:
    code = "from ibpolicy_lint import limits; print(limits.MAX_DOCUMENT_BYTES, limits.MAX_TERRAFORM_BYTES)"
    result = subprocess.run([str(project.bin("python")), "-c", code], env=env, capture_output=True, text=True, check=True)
    document, terraform = map(int, result.stdout.split())
    return Caps(document, terraform)


def read_report(path: Path) -> dict | None:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    findings = report.get("findings", [])
    problems = [f.get("message", "") for f in findings if f.get("rule") == "IBP000"]
    return {
        "ibp000": len(problems),
        "ibp000_messages": problems[:20],
        "internal_errors": sum("internal error" in message for message in problems),
        "beside_reported": any((f.get("file"), f.get("rule"), f.get("line")) == BESIDE_FINDING for f in findings),
        "findings": len(findings),
        "files": report.get("summary", {}).get("files"),
    }


def describe(folder: Path) -> dict:
    """How many directory entries the class holds (links and FIFOs too), and the bytes of its regular files."""
    entries = size = 0
    for root, _, names in os.walk(folder):
        for name in names:
            info = os.lstat(os.path.join(root, name))
            entries += 1
            size += info.st_size if stat.S_ISREG(info.st_mode) else 0
    return {"entries": entries, "bytes": size}


def summarise(runs: list[tuple[measure.Measurement, dict | None]]) -> dict:
    measured = [m for m, _ in runs]
    reports = [r for _, r in runs if r is not None]
    counts = sorted({r["ibp000"] for r in reports})
    stderr = " ".join(m.stderr_tail for m in measured)
    return {
        "runs": len(runs),
        "timed_out": sum(m.timed_out for m in measured),
        "wall_max_s": max(m.wall_s for m in measured),  # a run killed at the timeout counts with its time so far
        "cpu_max_s": max(m.cpu_s for m in measured),
        "peak_rss_max_mb": max(m.peak_rss_mb for m in measured),
        "exit_codes": sorted({m.exit_code for m in measured}, key=lambda code: (code is None, code)),
        "ibp000": counts,
        "beside_reported": bool(reports) and len(reports) == len(runs) and all(r["beside_reported"] for r in reports),
        "reports_missing": len(runs) - len(reports),
        "traceback": "Traceback" in stderr or "internal error" in stderr,
        "internal_errors": max((r["internal_errors"] for r in reports), default=0),
        "ibp000_messages": reports[-1]["ibp000_messages"] if reports else [],
        "stderr_tail": next((m.stderr_tail[-500:] for m in measured if m.stderr_tail), ""),
    }


def cells(case: Case, s: dict) -> tuple[str, ...]:
    wall = f">{s['wall_max_s']:.0f} s (timeout)" if s["timed_out"] else f"{s['wall_max_s']:.2f} s"
    counts = s["ibp000"]  # the distinct counts over the rounds
    count = "-" if not counts else str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    exits = ",".join("timeout" if code is None else str(code) for code in s["exit_codes"])
    flags = [w for w, on in (("SLOW", s["wall_max_s"] > WALL_FLAG_S), ("BIG", s["peak_rss_max_mb"] > RSS_FLAG_MB)) if on]
    flags += ["LOST"] if not s["beside_reported"] else []
    flags += ["TRACEBACK"] if s["traceback"] or s["internal_errors"] else []
    return (
        case.title, wall, f"{s['cpu_max_s']:.2f} s", f"{s['peak_rss_max_mb']:.0f} MB", count,
        "yes" if s["beside_reported"] else "NO", exits, " ".join(flags),
    )  # fmt: skip


def table(rows: list[tuple[str, ...]]) -> str:
    header = ("class", "max wall", "max CPU", "max peak RSS", "IBP000", "IBP101 beside", "exit", "flags")
    return measure.table([header, *rows], right={1, 2, 3, 4})  # the numbers


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Worst-case wall time and peak RSS of ibpolicy-lint on hostile input.")
    parser.add_argument("--rounds", type=int, default=None, help="runs per class; the worst is reported (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before one run is killed (default 120)")
    parser.add_argument("--classes", default=",".join(c.key for c in CASES), help="comma-separated subset of the class keys")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder with the generated inputs")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "hostile.json", help="where the JSON goes")
    parser.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)  # internal: the generator process
    parser.add_argument("--caps", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.output = args.output.resolve()
    unknown = set(args.classes.split(",")) - {c.key for c in CASES}
    if unknown:
        parser.error(f"unknown classes: {', '.join(sorted(unknown))} (known: {', '.join(c.key for c in CASES)})")
    return args


def generate(scratch: Path, keys: list[str], caps: Caps) -> None:
    """Write every class's folder, and scratch/inputs.json (sizes, notes, what was locked)."""
    facts: dict[str, dict] = {}
    notes: list[str] = []
    for case in (c for c in CASES if c.key in keys):
        folder = scratch / case.key
        folder.mkdir()
        shutil.copy(build.BESIDE, folder / "beside.yaml")
        begun = time.perf_counter()
        note = case.build(folder, caps)
        facts[case.key] = {"title": case.title, **describe(folder), "generate_s": round(time.perf_counter() - begun, 2)}
        notes += [f"{case.key}: {note}"] if isinstance(note, str) else []
        bench.log(f"generated {case.key}: {facts[case.key]['entries']} entries, {facts[case.key]['bytes'] / 1e6:.1f} MB")
    inputs = {"facts": facts, "notes": notes, "locked": [str(path) for path in LOCKED]}
    (scratch / "inputs.json").write_text(json.dumps(inputs))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.generate_into:
        generate(args.generate_into, args.classes.split(","), Caps(*map(int, args.caps.split(","))))
        return 0
    started = time.time()
    os.chdir(REPO)
    project = venvs.ensure_project(BENCH / ".venvs", REPO)
    ibp = str(project.bin("ibpolicy-lint"))
    cases = [c for c in CASES if c.key in args.classes.split(",")]
    scratch = Path(tempfile.mkdtemp(prefix="ibp-hostile-"))
    env = child_env(scratch)
    caps = installed_caps(project, env)
    runs: dict[str, list[tuple[measure.Measurement, Path]]] = {c.key: [] for c in cases}
    inputs: dict = {"facts": {}, "notes": [], "locked": []}
    try:
        # Generated in a child process, so that this one stays small: its peak RSS is the floor of every measurement.
        generator = [sys.executable, str(Path(__file__).resolve()), "--generate-into", str(scratch)]
        subprocess.run([*generator, "--classes", args.classes, "--caps", f"{caps.document},{caps.terraform}"], check=True)
        inputs = json.loads((scratch / "inputs.json").read_text())
        # Untimed: the first .tf parse after an install may build python-hcl2's grammar cache.
        measure.run([ibp, "--no-cache", WARM_UP], cwd=REPO, env=env, ok_exit_codes=frozenset({0, 1}))
        (scratch / "reports").mkdir()
        for number in range(1, args.rounds + 1):
            for case in cases:
                report = scratch / "reports" / f"{case.key}-{number}.json"
                command = [ibp, "--no-cache", "--format", "json", "--output-file", str(report), "."]
                result = measure.run(
                    command, cwd=scratch / case.key, env=env, ok_exit_codes=frozenset({0, 1}), timeout_s=args.timeout
                )
                runs[case.key].append((result, report))
                status = "TIMEOUT" if result.timed_out else f"exit {result.exit_code}"
                bench.log(
                    f"{case.key} round {number}/{args.rounds}: {result.wall_s:.2f} s wall, {result.cpu_s:.2f} s CPU, "
                    f"{result.peak_rss_mb:.0f} MB, {status}{bench.contention(result)}"
                )
        # Read only now: parsing a large report here would raise the floor for the runs after it.
        raw = {key: [(m, read_report(report)) for m, report in done] for key, done in runs.items()}
    finally:
        for path in inputs["locked"]:
            os.chmod(path, 0o700)
        if args.keep:
            bench.log(f"scratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    notes: list[str] = list(inputs["notes"])
    facts = inputs["facts"]
    summary = {key: summarise(runs) for key, runs in raw.items()}
    for case in cases:
        s = summary[case.key]
        if s["timed_out"]:
            notes.append(f"{case.key}: {s['timed_out']} run(s) killed after the {args.timeout:.0f} s timeout")
        if s["wall_max_s"] > WALL_FLAG_S or s["peak_rss_max_mb"] > RSS_FLAG_MB:
            notes.append(f"{case.key}: over {WALL_FLAG_S:g} s or {RSS_FLAG_MB:g} MB in a run")
        if not s["beside_reported"]:
            notes.append(f"{case.key}: beside.yaml's IBP101 at line 16 was not reported in every run")
        if s["traceback"] or s["internal_errors"]:
            notes.append(f"{case.key}: a traceback or internal error: {s['stderr_tail'][-300:] or s['ibp000_messages'][:1]}")
        if set(s["exit_codes"]) - {1, None}:
            notes.append(f"{case.key}: exit codes {s['exit_codes']} (1 = findings, expected)")
    measured = [m for done in raw.values() for m, _ in done]
    floor = max((m.peak_rss_floor_mb for m in measured if m.peak_rss_floor_mb is not None), default=None)
    if any(m.at_floor for m in measured if not m.timed_out):
        notes.append(f"some peak RSS values are at their floor, this script's own peak (up to {floor:.0f} MB): less is not seen")
    disturbed = [f"{key} round {n}" for key, runs in raw.items() for n, (m, _) in enumerate(runs, 1) if bench.contention(m)]
    if disturbed:
        notes.append(f"other processes used more than a quarter of a core during {', '.join(disturbed)}: wall times inflated")

    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": round(time.time() - started, 1),
        "command": " ".join(["python", "bench/hostile.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": bench.machine(),
        "versions": {p: bench.package_version(project.bin("python"), p) for p in ("ibpolicy-lint", "python-hcl2", "PyYAML")},
        "project": {**bench.git_state(), "source_sha256": venvs.source_hash(REPO), "venv_rebuilt": project.rebuilt},
        "settings": {"rounds": args.rounds, "timeout_s": args.timeout, "caps": vars(caps), "argv": "--no-cache --format json ."},
        "peak_rss_floor_mb": floor,
        "inputs": facts,
        "summary": summary,
        "runs": {key: [{**m.as_json(), "report": r} for m, r in done] for key, done in raw.items()},
        "notes": notes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    m = report["machine"]
    print(f"\nMachine: {m['cpu_count']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    print(f"Peak RSS reads no lower than this script's own peak RSS, at most {floor or 0:.0f} MB here (see measure.py).")
    print(f"Rounds: {args.rounds} (the worst shown), each: ibpolicy-lint --no-cache --format json . (timeout {args.timeout:g} s)")
    print("\n" + table([cells(case, summary[case.key]) for case in cases]) + "\n")
    for case in cases:
        first = (summary[case.key]["ibp000_messages"] or ["(none)"])[0]
        print(f"  {case.key:16} e.g. {first[:150]}")
    for note in notes:
        print(f"note: {note}")
    print(f"\nResults: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
