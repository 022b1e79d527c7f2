"""What reading one file, or evaluating one Terraform root, may cost before it becomes an IBP000 finding.

The figures come from PARSING.md (measured on a 2-core machine). Each can be overridden through the
environment (``IBPOLICY_LINT_<NAME>``), e.g. ``IBPOLICY_LINT_TIME_LIMIT_SECONDS=20`` on a slow CI runner.

The time and memory limits are enforced by a watchdog: an interval timer (``signal.setitimer``)
whose handler raises ``LimitExceeded`` in the code that is running, which interrupts both libyaml and
python-hcl2's Lark parser. It needs Unix and the main thread; elsewhere only the size caps apply.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from .source import Span
from .values import Choice, ListValue, MapValue, Symbol, Value

T = TypeVar("T")

_MB = 1024 * 1024


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(f"IBPOLICY_LINT_{name}", "")
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value > 0 else default


# YAML/JSON: twice what CloudFormation accepts (1 MB from S3); reading needs 70-190 MB of memory per MB
# (the densest documents below the cap meet the memory limit instead).
MAX_DOCUMENT_BYTES = int(_setting("MAX_DOCUMENT_BYTES", 2 * _MB))
# HCL: python-hcl2 parses 40-250 KB/s here and needs 230-700 MB of memory per MB, depending on how dense
# the tokens are: 256 KB takes 1.5-3 s and ~100 MB for typical files; denser ones meet the time limit.
MAX_TERRAFORM_BYTES = int(_setting("MAX_TERRAFORM_BYTES", _MB // 4))
# Reading, parsing and loading one file: with start-up and clean-up, a file costs at most ~5 s (issue 7's target).
TIME_LIMIT_SECONDS = _setting("TIME_LIMIT_SECONDS", 4.0)
# Evaluating one Terraform root module once its files are parsed (modules, count/for_each, locals).
ROOT_TIME_LIMIT_SECONDS = _setting("ROOT_TIME_LIMIT_SECONDS", 10.0)
# Growth of the resident memory while one file or root is read: with a ~60 MB start, under 500 MB in all.
MEMORY_LIMIT_BYTES = int(_setting("MEMORY_LIMIT_MB", 350) * _MB)
# What the checks may walk in one resource: deep values would exceed Python's recursion limit in the
# checks, and shared values (a YAML alias, a Terraform local used twice) are walked once per use.
MAX_VALUE_DEPTH = 100
MAX_VALUE_NODES = 250_000

_TICK_SECONDS = 0.1  # how often the watchdog looks at the clock and the memory
_GRACE_SECONDS = 1.0  # raise again if the first LimitExceeded was swallowed by a bare except


def size_text(size: int) -> str:
    return f"{size / _MB:g} MB" if size >= _MB else f"{size / 1024:g} KB"


def too_large(limit: int, kind: str) -> str:
    return f"is larger than {size_text(limit)}, the limit for {kind}; not checked"


# --- the watchdog ----------------------------------------------------------------------------------


class LimitExceeded(BaseException):
    """Raised by the watchdog inside the code that ran too long or grew too large.

    A BaseException, like KeyboardInterrupt, so that ``except Exception`` in a parser cannot swallow it.
    """

    def __init__(self, budget: Budget, reason: str) -> None:
        super().__init__(reason)
        self.budget = budget
        self.reason = reason


class Budget:
    """A time and memory allowance for the code inside ``with``. Budgets nest; the outer one still counts."""

    def __init__(self, seconds: float, memory: int | None) -> None:
        self.seconds = seconds
        self.memory = memory
        self.deadline = 0.0
        self.ceiling: int | None = None
        self.fired_at: float | None = None
        self.active = False

    def __enter__(self) -> Budget:
        if not _watchdog_available():
            return self
        self.deadline = time.monotonic() + self.seconds
        start = _resident_bytes() if self.memory else None
        self.ceiling = start + self.memory if start is not None and self.memory else None
        if not _active:
            _start_watchdog()
        _active.append(self)
        self.active = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.active:
            self.active = False
            _active.remove(self)
            if not _active:
                _stop_watchdog()


_active: list[Budget] = []
_saved: dict[str, object] = {}


def _watchdog_available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _start_watchdog() -> None:
    _saved["handler"] = signal.signal(signal.SIGALRM, _on_tick)
    _saved["timer"] = signal.setitimer(signal.ITIMER_REAL, _TICK_SECONDS, _TICK_SECONDS)
    _saved["started"] = time.monotonic()


def _stop_watchdog() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)
    previous = _saved.pop("handler", None)
    signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)  # type: ignore[arg-type]
    delay, interval = _saved.pop("timer", (0.0, 0.0))  # type: ignore[misc]
    if delay:  # someone else's timer was running: give it back what is left of it
        elapsed = time.monotonic() - _saved.pop("started", time.monotonic())  # type: ignore[operator]
        signal.setitimer(signal.ITIMER_REAL, max(delay - elapsed, 0.001), interval)


def _on_tick(signum: int, frame: object) -> None:
    now = time.monotonic()
    resident: int | None = None
    for budget in list(_active):  # outermost first: an outer budget that ran out wins
        if not budget.active or (budget.fired_at is not None and now - budget.fired_at < _GRACE_SECONDS):
            continue
        if now >= budget.deadline:
            reason = f"took longer than {budget.seconds:g} s"
        elif budget.ceiling is not None:
            resident = _resident_bytes() if resident is None else resident
            if resident is None or resident <= budget.ceiling:
                continue
            reason = f"needed more than {size_text(budget.memory or 0)} of memory"
        else:
            continue
        budget.fired_at = now
        raise LimitExceeded(budget, reason)


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident_bytes() -> int | None:
    """The process's current resident memory (Linux); None where /proc is not available."""
    try:
        with open("/proc/self/statm", "rb") as stream:
            return int(stream.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


# --- one file, or one root, within bounds -----------------------------------------------------------

# How often time or memory ran out. That depends on the machine and its load as well as on the input,
# so a scan during which it happened is not remembered as the input's result (see cache.py).
stops_by_circumstance = 0


def contained(
    work: Callable[[], T], activity: str, seconds: float = TIME_LIMIT_SECONDS, memory: int | None = MEMORY_LIMIT_BYTES
) -> tuple[T | None, str | None]:
    """``(work(), None)``, or ``(None, reason)`` when it ran out of time or memory or raised.

    ``activity`` completes the reason: "took longer than 5 s while it was read; not checked".
    An unexpected exception is a bug, reported for this file instead of stopping the scan
    (``IBPOLICY_LINT_DEBUG=1`` lets it through with its traceback).
    """
    budget = Budget(seconds, memory)
    try:
        with budget:
            return work(), None
    except LimitExceeded as error:
        if error.budget is not budget:
            raise
        _stopped_by_circumstance()
        return None, f"{error.reason} {activity}; not checked"
    except RecursionError:
        return None, f"nests too deeply for this linter (Python's recursion limit was reached {activity}); not checked"
    except MemoryError:
        _stopped_by_circumstance()
        return None, f"needed more memory than is available {activity}; not checked"
    except Exception as error:  # noqa: BLE001 - one file's bug must not stop the scan
        if os.environ.get("IBPOLICY_LINT_DEBUG"):
            raise
        return None, internal_error(error, activity)


def _stopped_by_circumstance() -> None:
    global stops_by_circumstance
    stops_by_circumstance += 1


def internal_error(error: BaseException, activity: str) -> str:
    detail = " ".join(str(error).split())
    if len(detail) > 200:
        detail = detail[:199] + "…"
    described = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return f"caused an internal error {activity} ({described}); not checked — please report this bug"


# --- what the checks may walk ----------------------------------------------------------------------

_LEAVES = (str, bytes, int, float, bool, type(None), Span, Symbol)


def oversized(item: object) -> str | None:
    """Why the values in ``item`` (a resource) are too big for the checks to walk, or None.

    Iterative and memoised: shared values are measured once but counted at every use, as the
    checks would walk them.
    """
    depth: dict[int, int] = {}
    size: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[object, bool]] = [(item, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in depth:
            continue
        children = _parts(node)
        if not children_done:
            if key in entered:
                continue  # a cycle through non-value objects: already being measured
            entered.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in depth)
            continue
        own = 1 if isinstance(node, Value) else 0
        depth[key] = own + max((depth.get(id(child), 0) for child in children), default=0)
        size[key] = own + sum(size.get(id(child), 0) for child in children)
        if depth[key] > MAX_VALUE_DEPTH:
            return f"values nested more than {MAX_VALUE_DEPTH} levels deep"
        if size[key] > MAX_VALUE_NODES:
            return f"values that expand to more than {MAX_VALUE_NODES:,} values"
    return None


def _parts(node: object) -> list:
    if isinstance(node, Value):
        if isinstance(node, ListValue):
            children: list = list(node.items)
        elif isinstance(node, MapValue):
            children = list(node.entries.values())
        elif isinstance(node, Choice):
            children = [branch for _, branch in node.branches]
        else:
            return []
    elif isinstance(node, (list, tuple, set, frozenset)):
        children = list(node)
    elif isinstance(node, dict):
        children = list(node.values())
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        children = [getattr(node, f.name, None) for f in dataclasses.fields(node)]
    else:
        return []
    return [child for child in children if not isinstance(child, _LEAVES)]
