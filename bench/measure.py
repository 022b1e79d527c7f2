"""Run one command as a fresh child process and measure it: wall time, CPU time, peak RSS.

CPU time and peak RSS come from ``os.wait4``: the kernel's account of the child plus every
descendant it reaped, so a tool that forks workers (checkov does) is charged their CPU. Peak RSS
is the largest single process in that tree (Linux ``ru_maxrss``), not the sum of concurrent ones.

That peak RSS never reads below the measuring process's own peak: CPython starts the child with
vfork, and exec hands the parent's high-water mark on to the child's ``ru_maxrss``. Each measurement
records that floor (``peak_rss_floor_mb``), so a reader can tell a real figure from the floor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

TAIL_CHARS = 1500


@dataclass
class Measurement:
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_mb: float
    exit_code: int | None  # None when it was killed for running past the timeout
    ok: bool  # finished within the timeout with an exit code the tool uses for "ran fine"
    timed_out: bool
    stdout_tail: str
    stderr_tail: str
    others_cpu_s: float | None = None  # CPU time the rest of the machine used meanwhile: competition for the cores
    peak_rss_floor_mb: float | None = None  # the measuring process's own peak: peak_rss_mb cannot read lower

    @property
    def at_floor(self) -> bool:
        """Whether peak_rss_mb is (within 0.5 MB) the floor: the child may have needed less."""
        return self.peak_rss_floor_mb is not None and self.peak_rss_mb <= self.peak_rss_floor_mb + 0.5

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    def as_json(self) -> dict:
        return {**asdict(self), "cpu_s": round(self.cpu_s, 4)}


def _machine_busy_s() -> float | None:
    """CPU seconds all cores have spent busy since boot (/proc/stat), or None where there is no /proc."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is already inside user


def own_peak_rss_mb() -> float | None:
    """This process's peak RSS (VmHWM), the floor of every child's measured peak RSS; None without /proc."""
    try:
        with open("/proc/self/status") as status:
            return next(round(int(line.split()[1]) / 1024, 1) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None


def table(rows: list[tuple[str, ...]], right: set[int]) -> str:
    """Plain-text columns: ``rows[0]`` is the header, underlined; the columns numbered in ``right`` are right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _tail(path: Path) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - TAIL_CHARS))
        return handle.read().decode("utf-8", "replace").strip()


def run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    ok_exit_codes: frozenset[int] | None = None,
    timeout_s: float | None = None,
) -> Measurement:
    """Run ``argv`` once; never raises for the child's failures (they are recorded in the result)."""
    floor = own_peak_rss_mb()
    busy_before = _machine_busy_s()
    with tempfile.TemporaryDirectory(prefix="ibp-bench-out-") as scratch:
        out_path, err_path = Path(scratch, "stdout"), Path(scratch, "stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            started = time.perf_counter()
            try:
                child = subprocess.Popen(
                    argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
                )
            except OSError as error:
                return Measurement(0.0, 0.0, 0.0, 0.0, None, False, False, "", f"could not start: {error}", None, floor)
            killed = threading.Event()

            def kill_group() -> None:
                killed.set()
                try:
                    os.killpg(child.pid, signal.SIGKILL)  # the whole session: checkov's workers too
                except ProcessLookupError:
                    pass

            timer = threading.Timer(timeout_s, kill_group) if timeout_s else None
            if timer:
                timer.daemon = True
                timer.start()
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
            if timer:
                timer.cancel()
            busy_after = _machine_busy_s()
            child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if killed.is_set():
            try:  # workers that outlived the session leader
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        exit_code = None if killed.is_set() else child.returncode
        accepted = ok_exit_codes if ok_exit_codes is not None else frozenset({0})
        return Measurement(
            wall_s=round(wall, 4),
            cpu_user_s=round(usage.ru_utime, 4),
            cpu_sys_s=round(usage.ru_stime, 4),
            peak_rss_mb=round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
            exit_code=exit_code,
            ok=exit_code is not None and exit_code in accepted,
            timed_out=killed.is_set(),
            stdout_tail=_tail(out_path),
            stderr_tail=_tail(err_path),
            others_cpu_s=None
            if busy_before is None or busy_after is None
            else round(max(0.0, busy_after - busy_before - usage.ru_utime - usage.ru_stime), 2),
            peak_rss_floor_mb=floor,
        )
