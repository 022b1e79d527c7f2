"""Benchmark ibpolicy-lint against cfn-lint and checkov, side by side (issue 8).

    python bench/run.py            # full run: 5 alternating rounds, 10,000-file generated repository
    python bench/run.py --quick    # smoke run: 1 round, 500-file repository

Inputs: (a) one small template, cold; (b) ../shared/bench-corpus/ plus ../shared/corpus/; (c) a
generated repository (CloudFormation and Terraform, ~1% Image Builder/KMS/IAM), plus a warm re-run
of ibpolicy-lint over the unchanged tree. Every invocation is a fresh process; the tools take turns
within each round (A B C, A B C, ...). Prints a table, the ratios and the issue-8 targets, and writes
bench/results/latest.json. Always exits 0 once it has measured: it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import measure  # noqa: E402
import venvs  # noqa: E402

REPO = BENCH.parent
SMALL_TEMPLATE = "fixtures/ibp101-recipe-managed-key/bad.yaml"
FIRST_TF_RUN = "fixtures/tf-ibp101-recipe-managed-key"

IBP, IBP_WARM, IBP_CFN_ONLY, CFN_LINT, CHECKOV = (
    "ibpolicy-lint", "ibpolicy-lint (warm)", "ibpolicy-lint (CFN files only)", "cfn-lint", "checkov",
)  # fmt: skip
PEERS = (CFN_LINT, CHECKOV)

OK_EXIT_CODES = {
    IBP: frozenset({0, 1}),  # 1 = findings
    IBP_WARM: frozenset({0, 1}),
    IBP_CFN_ONLY: frozenset({0, 1}),
    CFN_LINT: frozenset({0, 2, 4, 6, 8, 10, 12, 14}),  # bit flags: 2 error, 4 warning, 8 informational
    CHECKOV: frozenset({0, 1}),  # 1 = failed checks; 2 = a framework crashed
}

# checkov offline: no Prisma Cloud downloads (--skip-download, BC_SKIP_MAPPING), no PyPI version check,
# no VCS configuration fetches, no external Terraform modules.
CHECKOV_ENV = {
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_GITHUB_CONFIG_FETCH_DATA": "false",
    "CKV_GITLAB_CONFIG_FETCH_DATA": "false",
    "CKV_BITBUCKET_CONFIG_FETCH_DATA": "false",
    "DOWNLOAD_EXTERNAL_MODULES": "false",
    "LOG_LEVEL": "WARNING",
}
CHECKOV_FLAGS = ["--quiet", "--compact", "--skip-download"]


@dataclass
class Invocation:
    tool: str
    argv: list[str]
    cwd: Path
    warm: bool = False  # reuse the cache directory of this round's cold ibpolicy-lint run


@dataclass
class Input:
    key: str
    title: str
    invocations: list[Invocation]
    facts: dict = field(default_factory=dict)
    peer_rounds: int | None = None  # peers run only in the first N rounds (large input); None = every round


# ---------------------------------------------------------------- the machine and the tools


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory_gb,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def package_version(python: Path, package: str) -> str:
    result = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True, text=True,
    )  # fmt: skip
    return result.stdout.strip() or "unknown"


def git_state() -> dict:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return result.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "ibpolicy_lint", "rules", "pyproject.toml")),
    }


# ---------------------------------------------------------------- inputs


def cloudformation_in_corpus(folder: Path) -> list[Path]:
    """The CloudFormation templates a corpus lists (FILES.tsv, else VERDICTS.tsv: ``format`` = cfn-*)."""
    listing = next((folder / name for name in ("FILES.tsv", "VERDICTS.tsv") if (folder / name).is_file()), None)
    if listing is None:
        raise SystemExit(f"{folder} lists its files in neither FILES.tsv nor VERDICTS.tsv")
    with open(listing, newline="") as handle:
        listed = [folder / row["local_path"] for row in csv.DictReader(handle, delimiter="\t") if row["format"].startswith("cfn")]
    return sorted({path for path in listed if path.is_file()})


def generate(root: Path, files: int, seed: int, *extra: str) -> dict:
    """generate_repo.py in a child process (its CLI), so that this process never holds the files: its own peak
    RSS is the floor of every measurement (measure.py). Returns the generator's JSON, with ``generate_s``."""
    started = time.perf_counter()
    command = [sys.executable, str(BENCH / "generate_repo.py"), str(root), "--files", str(files), "--seed", str(seed), *extra]
    facts = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    return {**facts, "seed": seed, "generate_s": round(time.perf_counter() - started, 2)}


def build_inputs(args: argparse.Namespace, tools: dict[str, Path], scratch: Path, notes: list[str]) -> list[Input]:
    ibp, cfn, ckv = str(tools[IBP]), str(tools[CFN_LINT]), str(tools[CHECKOV])
    wanted = set(args.inputs.split(","))
    inputs: list[Input] = []

    if "small" in wanted:
        inputs.append(Input("small", f"(a) one small template, cold: {SMALL_TEMPLATE}", [
            Invocation(IBP, [ibp, SMALL_TEMPLATE], REPO),
            Invocation(CFN_LINT, [cfn, SMALL_TEMPLATE], REPO),
            Invocation(CHECKOV, [ckv, "-f", SMALL_TEMPLATE, *CHECKOV_FLAGS], REPO),
        ], facts={"files": 1, "bytes": (REPO / SMALL_TEMPLATE).stat().st_size}))  # fmt: skip

    if "corpora" in wanted:
        folders = [args.shared / "bench-corpus", args.shared / "corpus"]
        missing = [str(f) for f in folders if not f.is_dir()]
        if missing:
            notes.append(f"corpora skipped: {', '.join(missing)} not found (use --shared DIR)")
        else:
            templates = [p for folder in folders for p in cloudformation_in_corpus(folder)]
            all_files = [p for folder in folders for p in folder.rglob("*") if p.is_file() and p.suffix != ".tsv"]
            folder_args = [str(f) for f in folders]
            inputs.append(Input("corpora", "(b) ../shared/bench-corpus/ + ../shared/corpus/ (folder scans)", [
                Invocation(IBP, [ibp, *folder_args], REPO),
                Invocation(IBP_CFN_ONLY, [ibp, *map(str, templates)], REPO),
                Invocation(CFN_LINT, [cfn, *map(str, templates)], REPO),
                Invocation(CHECKOV, [ckv, *(x for f in folder_args for x in ("-d", f)), *CHECKOV_FLAGS], REPO),
            ], facts={
                "files": len(all_files),
                "bytes": sum(p.stat().st_size for p in all_files),
                "cloudformation_files": len(templates),
                "note": "ibpolicy-lint and checkov scan both folders; cfn-lint gets the CloudFormation templates listed "
                "in FILES.tsv/VERDICTS.tsv, and so does 'ibpolicy-lint (CFN files only)' for a same-files ratio",
            }))  # fmt: skip

    if "repo" in wanted:
        root = scratch / "generated-repo"
        facts = generate(root, args.files, args.seed)
        templates = facts.pop("cloudformation")
        invocations = [
            Invocation(IBP, [ibp, "."], root),
            Invocation(IBP_WARM, [ibp, "."], root, warm=True),
            Invocation(CFN_LINT, [cfn, *templates], root),
        ]
        if args.skip_checkov_repo:
            notes.append("checkov skipped on the generated repository (--skip-checkov-repo)")
        else:
            invocations.append(Invocation(CHECKOV, [ckv, "-d", ".", *CHECKOV_FLAGS], root))
        inputs.append(Input(
            "repo", f"(c) generated repository, {facts['files']} files (seed {args.seed})", invocations, facts,
            peer_rounds=args.peer_rounds_repo,
        ))  # fmt: skip

    if "tftree" in wanted:
        root = scratch / "module-tree"
        facts = generate(root, 200, args.seed, "--module-tree")
        del facts["cloudformation"]
        inputs.append(Input("tftree", "(d) a Terraform module tree of 200 .tf files, no Image Builder, KMS or IAM", [
            Invocation(IBP, [ibp, "."], root),
            Invocation(CHECKOV, [ckv, "-d", ".", *CHECKOV_FLAGS], root),
        ], facts=facts))  # fmt: skip
    return inputs


# ---------------------------------------------------------------- measuring


def child_env(tool: str, cache_home: Path) -> dict[str, str]:
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "IBPOLICY_LINT_CACHE_DIR")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["XDG_CACHE_HOME"] = str(cache_home)  # a fresh, empty cache directory makes a run cold
    env["NO_COLOR"] = "1"
    if tool == CHECKOV:
        env.update(CHECKOV_ENV)
    return env


def contention(result: measure.Measurement) -> str:
    """A warning when the rest of the machine kept a quarter of a core or more busy during the run."""
    if result.others_cpu_s is None or result.wall_s <= 0 or result.others_cpu_s / result.wall_s < 0.25:
        return ""
    return f" [others used {result.others_cpu_s / result.wall_s:.1f} cores meanwhile]"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def measure_inputs(inputs: list[Input], args: argparse.Namespace, scratch: Path, notes: list[str]) -> dict:
    results: dict[str, dict[str, list[measure.Measurement]]] = {}
    for item in inputs:
        runs: dict[str, list[measure.Measurement]] = {inv.tool: [] for inv in item.invocations}
        given_up: set[str] = set()
        for round_number in range(1, args.runs + 1):
            cold_cache: Path | None = None
            for inv in item.invocations:
                if inv.tool in given_up:
                    continue
                if inv.tool in PEERS and item.peer_rounds is not None and round_number > item.peer_rounds:
                    continue
                if inv.warm:
                    if cold_cache is None:
                        continue
                    cache = cold_cache
                else:
                    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
                    if inv.tool == IBP:
                        cold_cache = cache
                result = measure.run(
                    inv.argv, cwd=inv.cwd, env=child_env(inv.tool, cache),
                    ok_exit_codes=OK_EXIT_CODES[inv.tool], timeout_s=args.timeout,
                )  # fmt: skip
                runs[inv.tool].append(result)
                status = "ok" if result.ok else ("TIMEOUT" if result.timed_out else f"FAILED (exit {result.exit_code})")
                log(
                    f"{item.key} round {round_number}/{args.runs} {inv.tool}: {result.wall_s:.3f} s wall, "
                    f"{result.cpu_s:.3f} s CPU, {result.peak_rss_mb:.0f} MB, {status}{contention(result)}"
                )
                if result.timed_out:
                    given_up.add(inv.tool)
                    notes.append(f"{item.key}: {inv.tool} ran past the {args.timeout:.0f} s timeout; not run again")
                elif not result.ok:
                    notes.append(
                        f"{item.key}: {inv.tool} failed in round {round_number} (exit {result.exit_code}): "
                        + (result.stderr_tail.splitlines() or ["no stderr"])[-1][:300]
                    )
                if not inv.warm and inv.tool != IBP:
                    shutil.rmtree(cache, ignore_errors=True)
            if cold_cache:
                shutil.rmtree(cold_cache, ignore_errors=True)
        results[item.key] = runs
    return results


def summarise(runs: list[measure.Measurement], timeout: float) -> dict:
    good = [r for r in runs if r.ok]
    summary: dict = {"runs": len(runs), "ok_runs": len(good), "timed_out": sum(r.timed_out for r in runs)}
    others = [r.others_cpu_s for r in runs if r.others_cpu_s is not None]
    if others:
        summary["others_cpu_s_max"] = max(others)
    if good:
        walls = [r.wall_s for r in good]
        summary.update(
            wall_s=round(statistics.median(walls), 4),
            wall_min_s=round(min(walls), 4),
            wall_max_s=round(max(walls), 4),
            cpu_s=round(statistics.median(r.cpu_s for r in good), 4),
            peak_rss_mb=round(statistics.median(r.peak_rss_mb for r in good), 1),
            exit_codes=sorted({r.exit_code for r in good}),
            last_stdout_line=(good[-1].stdout_tail.splitlines() or [""])[-1][:200],
        )
    elif summary["timed_out"]:
        summary["wall_at_least_s"] = timeout
    return summary


def ratio(ours: dict, theirs: dict) -> dict | None:
    """ours/theirs wall and CPU; with a timed-out peer, a bound (the peer took at least the timeout)."""
    if "wall_s" not in ours:
        return None
    if "wall_s" in theirs:
        return {
            "wall_ratio": round(ours["wall_s"] / theirs["wall_s"], 4),
            "speedup": round(theirs["wall_s"] / ours["wall_s"], 3),  # unrounded enough that 9.99x stays below 10x
            "cpu_ratio": round(ours["cpu_s"] / theirs["cpu_s"], 4) if theirs["cpu_s"] else None,
            "bound": False,
        }
    if "wall_at_least_s" in theirs:
        return {
            "wall_ratio": round(ours["wall_s"] / theirs["wall_at_least_s"], 4),
            "speedup": round(theirs["wall_at_least_s"] / ours["wall_s"], 3),
            "cpu_ratio": None,
            "bound": True,  # speedup is a lower bound
        }
    return None


# ---------------------------------------------------------------- targets and report


def targets(summary: dict, ratios: dict) -> list[dict]:
    def wall(key: str, tool: str) -> float | None:
        return summary.get(key, {}).get(tool, {}).get("wall_s")

    def rss(key: str, tool: str) -> float | None:
        return summary.get(key, {}).get(tool, {}).get("peak_rss_mb")

    def speedup(key: str, peer: str) -> tuple[float | None, bool]:
        found = ratios.get(key, {}).get(peer)
        return (found["speedup"], found["bound"]) if found else (None, False)

    checks = []

    def at_most(name: str, value: float | None, limit: float, unit: str) -> None:
        verdict = "N/A" if value is None else ("PASS" if value <= limit else "FAIL")
        shown = "not measured" if value is None else f"{value:g} {unit}"
        checks.append({"target": name, "value": value, "limit": f"<= {limit:g} {unit}", "shown": shown, "verdict": verdict})

    def faster(name: str, key: str, peer: str, times: float) -> None:
        value, bound = speedup(key, peer)
        if value is None:
            verdict = "N/A"
        elif value >= times:
            verdict = "PASS"
        else:
            verdict = "UNKNOWN" if bound else "FAIL"  # a peer that timed out may have been slower still
        shown = "not measured" if value is None else f"{'>=' if bound else ''}{value:.2f}x"
        checks.append({"target": name, "value": value, "limit": f">= {times:g}x", "shown": shown, "verdict": verdict})

    at_most("(a) small template: ibpolicy-lint wall", wall("small", IBP), 0.15, "s")
    faster("(a) small template: faster than cfn-lint", "small", CFN_LINT, 10)
    faster("(b) corpora: faster than cfn-lint", "corpora", CFN_LINT, 10)
    faster("(b) corpora: faster than checkov", "corpora", CHECKOV, 20)
    at_most("(c) generated repo: ibpolicy-lint wall", wall("repo", IBP), 10, "s")
    at_most("(c) generated repo: ibpolicy-lint peak RSS", rss("repo", IBP), 150, "MB")
    at_most("(c) generated repo: warm re-run wall", wall("repo", IBP_WARM), 0.3, "s")
    at_most("(d) 200-file Terraform module tree: ibpolicy-lint wall", wall("tftree", IBP), 1, "s")
    return checks


def table(inputs: list[Input], summary: dict) -> str:
    rows = [("input", "tool", "runs ok", "wall (median)", "wall min-max", "CPU (median)", "peak RSS", "exit")]
    for item in inputs:
        for tool, s in summary[item.key].items():
            if "wall_s" in s:
                rows.append((
                    item.key, tool, f"{s['ok_runs']}/{s['runs']}", f"{s['wall_s']:.3f} s",
                    f"{s['wall_min_s']:.3f}-{s['wall_max_s']:.3f}", f"{s['cpu_s']:.3f} s",
                    f"{s['peak_rss_mb']:.0f} MB", ",".join(map(str, s["exit_codes"])),
                ))  # fmt: skip
            elif s.get("wall_at_least_s"):
                rows.append((item.key, tool, f"0/{s['runs']}", f">{s['wall_at_least_s']:.0f} s", "timeout", "-", "-", "-"))
            else:
                rows.append((item.key, tool, f"0/{s['runs']}", "FAILED" if s["runs"] else "not run", "-", "-", "-", "-"))
    return measure.table(rows, right=set(range(2, len(rows[0]))))


def ratio_lines(ratios: dict) -> list[str]:
    lines = []
    for key, per_peer in ratios.items():
        for peer, r in per_peer.items():
            if r is None:
                continue
            ours = IBP_CFN_ONLY if peer == f"{CFN_LINT} (same files)" else IBP
            theirs = CFN_LINT if peer.startswith(CFN_LINT) else CHECKOV
            bound = ">=" if r["bound"] else ""
            cpu = f", CPU ratio {r['cpu_ratio']:.3f}" if r.get("cpu_ratio") is not None else ""
            lines.append(
                f"{key:8} {ours}/{theirs}: wall ratio {'<=' if r['bound'] else ''}{r['wall_ratio']:.3f} "
                f"({bound}{r['speedup']:.1f}x faster){cpu}"
            )
    return lines


# ---------------------------------------------------------------- profiling


def profile(inputs: list[Input], project: venvs.Venv, scratch: Path, results_dir: Path) -> dict[str, str]:
    """One pyinstrument run of ibpolicy-lint per input (cold cache), text reports under bench/results/."""
    venvs.ensure_tool(project, "pyinstrument", "pyinstrument")
    written = {}
    for item in inputs:
        if item.key == "small":
            continue
        inv = next(i for i in item.invocations if i.tool == IBP)
        out = results_dir / f"profile-{item.key}.txt"
        # Profile the installed console script (not the working tree: PYTHONSAFEPATH keeps the cwd off sys.path);
        # --show keeps the linter's own frames, which pyinstrument would hide as installed library code.
        argv = [str(project.bin("python")), "-m", "pyinstrument", "-r", "text", "--show", "*/ibpolicy_lint/*"]
        argv += ["-o", str(out), *inv.argv]
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
        env = {**child_env(IBP, cache), "PYTHONSAFEPATH": "1"}
        result = measure.run(argv, cwd=inv.cwd, env=env, ok_exit_codes=OK_EXIT_CODES[IBP])
        log(f"profile {item.key}: {result.wall_s:.2f} s under pyinstrument -> {out}")
        written[item.key] = str(out.relative_to(REPO)) if out.exists() else f"failed: {result.stderr_tail[-300:]}"
    return written


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark ibpolicy-lint against cfn-lint and checkov (issue 8).")
    parser.add_argument(
        "--runs", type=int, default=None, help="alternating rounds; the median is reported (default 5, --quick 1)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, a 500-file generated repository")
    parser.add_argument("--files", type=int, default=None, help="files in the generated repository (default 10000, --quick 500)")
    parser.add_argument("--seed", type=int, default=8, help="seed of the generated repository (default 8)")
    parser.add_argument(
        "--inputs", default="small,corpora,repo,tftree", help="comma-separated subset of small,corpora,repo,tftree"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds before one invocation is killed (default 900)")
    parser.add_argument(
        "--peer-rounds-repo", type=int, default=1,
        help="rounds in which cfn-lint and checkov run on the generated repository (default 1: they take minutes)",
    )  # fmt: skip
    parser.add_argument("--skip-checkov-repo", action="store_true", help="do not run checkov on the generated repository")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="folder holding bench-corpus/ and corpus/")
    parser.add_argument("--profile", action="store_true", help="also profile ibpolicy-lint on (b) and (c) with pyinstrument")
    parser.add_argument("--keep-repo", action="store_true", help="keep the scratch folder with the generated repository")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "latest.json", help="where the JSON results go")
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 5)
    args.files = args.files or (500 if args.quick else 10_000)
    args.output, args.shared = args.output.resolve(), args.shared.resolve()  # relative to where it was started
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    os.chdir(REPO)
    venv_root = BENCH / ".venvs"
    peers = venvs.ensure_peers(venv_root)
    project = venvs.ensure_project(venv_root, REPO)
    tools = {IBP: project.bin("ibpolicy-lint"), CFN_LINT: peers.bin("cfn-lint"), CHECKOV: peers.bin("checkov")}
    versions = {
        IBP: package_version(project.bin("python"), "ibpolicy-lint"),
        CFN_LINT: package_version(peers.bin("python"), "cfn-lint"),
        CHECKOV: package_version(peers.bin("python"), "checkov"),
        "python-hcl2 (project venv)": package_version(project.bin("python"), "python-hcl2"),
    }
    notes: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="ibp-bench-"))
    try:
        # The first .tf parse after an install may build python-hcl2's grammar cache (PARSING.md); record it,
        # then warm every tool once so the rounds measure the steady state of an installed tool.
        first_tf = measure.run([str(tools[IBP]), FIRST_TF_RUN], cwd=REPO, env=child_env(IBP, scratch / "first"),
                               ok_exit_codes=OK_EXIT_CODES[IBP])  # fmt: skip
        log(f"first .tf run of ibpolicy-lint (project venv rebuilt now: {project.rebuilt}): {first_tf.wall_s:.2f} s")
        for tool in (IBP, CFN_LINT):
            measure.run([str(tools[tool]), SMALL_TEMPLATE], cwd=REPO, env=child_env(tool, scratch / "warmup"))
        measure.run(
            [str(tools[CHECKOV]), "-f", SMALL_TEMPLATE, *CHECKOV_FLAGS], cwd=REPO, env=child_env(CHECKOV, scratch / "warmup")
        )

        inputs = build_inputs(args, tools, scratch, notes)
        raw = measure_inputs(inputs, args, scratch, notes)
        summary = {key: {tool: summarise(runs, args.timeout) for tool, runs in per_tool.items()} for key, per_tool in raw.items()}
        ratios: dict[str, dict] = {}
        for key, per_tool in summary.items():
            ours = per_tool.get(IBP, {})
            ratios[key] = {peer: ratio(ours, per_tool[peer]) for peer in PEERS if peer in per_tool}
            if IBP_CFN_ONLY in per_tool and CFN_LINT in per_tool:
                ratios[key][f"{CFN_LINT} (same files)"] = ratio(per_tool[IBP_CFN_ONLY], per_tool[CFN_LINT])
        checks = targets(summary, ratios)
        disturbed = [
            f"{key}/{tool} round {number}"
            for key, per_tool in raw.items()
            for tool, runs in per_tool.items()
            for number, r in enumerate(runs, 1)
            if contention(r)
        ]
        if disturbed:
            notes.append(
                "other processes used more than a quarter of a core during "
                f"{len(disturbed)} run(s) ({', '.join(disturbed[:8])}{', ...' if len(disturbed) > 8 else ''}): "
                "their wall times may be inflated; CPU times are less affected"
            )
        every_run = [r for per_tool in raw.values() for runs in per_tool.values() for r in runs]
        floor = max((r.peak_rss_floor_mb for r in every_run if r.peak_rss_floor_mb is not None), default=None)
        at_floor = [
            f"{key}/{tool}"
            for key, per_tool in raw.items()
            for tool, runs in per_tool.items()
            if any(r.ok and r.at_floor for r in runs)
        ]
        if at_floor:
            notes.append(
                f"peak RSS at its floor, this script's own peak RSS (up to {floor:.0f} MB), in {', '.join(at_floor)}: "
                "the tool may need less (see measure.py)"
            )
        profiles = profile(inputs, project, scratch, args.output.parent) if args.profile else {}
    finally:
        if args.keep_repo:
            log(f"scratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": round(time.time() - started, 1),
        "command": " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "versions": versions,
        "project": {
            **git_state(),
            "source_sha256": venvs.source_hash(REPO),
            "venv_rebuilt": project.rebuilt,
            "venv_build_s": project.build_s,
        },  # fmt: skip
        "settings": {
            "runs": args.runs,
            "quick": args.quick,
            "files": args.files,
            "seed": args.seed,
            "timeout_s": args.timeout,
            "peer_rounds_repo": args.peer_rounds_repo,
            "checkov_env": CHECKOV_ENV,
            "checkov_flags": CHECKOV_FLAGS,
        },  # fmt: skip
        "first_tf_run": first_tf.as_json(),
        "peak_rss_floor_mb": floor,
        "inputs": {
            item.key: {
                "title": item.title,
                **item.facts,
                "commands": {
                    inv.tool: [Path(a).name if i == 0 else a for i, a in enumerate(inv.argv[:12])]
                    + (["..."] if len(inv.argv) > 12 else [])
                    for inv in item.invocations
                },  # fmt: skip
                "cwd": {inv.tool: str(inv.cwd) if inv.cwd == REPO else "<generated repository>" for inv in item.invocations},
            }
            for item in inputs
        },
        "summary": summary,
        "ratios": ratios,
        "targets": checks,
        "runs": {key: {tool: [r.as_json() for r in runs] for tool, runs in per_tool.items()} for key, per_tool in raw.items()},
        "profiles": profiles,
        "notes": notes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    m = report["machine"]
    print(f"\nMachine: {m['cpu_count']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"Rounds: {args.runs} (alternating; peers on the generated repository: {min(args.runs, args.peer_rounds_repo)})")
    print(f"Peak RSS reads no lower than this script's own peak RSS, at most {floor or 0:.0f} MB here (see measure.py).")
    for item in inputs:
        print(f"  {item.key}: {item.title}; {item.facts.get('files')} files, {item.facts.get('bytes', 0) / 1e6:.2f} MB")
    print("\n" + table(inputs, summary) + "\n")
    for line in ratio_lines(ratios):
        print(line)
    print("\nTargets (issue 8):")
    for check in checks:
        print(f"  {check['verdict']:7} {check['target']}: {check['shown']} (target {check['limit']})")
    for note in notes:
        print(f"note: {note}")
    for key, path in profiles.items():
        print(f"profile {key}: {path}")
    print(f"\nResults: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
