"""Deciding a check over every branch of the conditions it consults.

A check states, for one world, whether its rule is violated (with the details for the message),
cannot be decided (with what to verify), or holds. ``judge`` runs it in every world and says
whether the violation is certain, conditional (the severity drops one level and the message
names the condition), or only possibly there (an info finding).

Which decisions matter is learnt, not listed: the check reads the sources through ``select`` and
``holds``, the world notes each decision they consult, and ``judge`` widens its worlds to those
decisions until the check consults none it has not enumerated (at most MAX_WORLDS worlds). A
decision beyond that limit is not enumerated: the verdict names it and is never certain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .findings import Severity
from .values import Exploring, World, common_conditions, completed, describe_world, worlds

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Violated(Generic[T]):
    detail: T


@dataclass(frozen=True)
class Undecided(Generic[U]):
    detail: U


Outcome = Violated | Undecided | None


@dataclass
class Verdict(Generic[T, U]):
    every_world: list[dict[str, str]]
    violated: list[tuple[dict[str, str], T]] = field(default_factory=list)
    undecided: list[tuple[dict[str, str], U]] = field(default_factory=list)
    # Decisions the check consulted that the worlds do not enumerate (beyond MAX_WORLDS): in every world
    # they counted as taken, so a violation there is not known to happen in every deployment.
    unexamined: tuple[str, ...] = ()

    @property
    def certain(self) -> bool:
        return not self.unexamined and len(self.violated) == len(self.every_world)

    def split(self, parts: Callable[[T], Iterable[tuple[K, V]]]) -> dict[K, Verdict[list[V], U]]:
        """One verdict per part of what the violations found (a Deny statement, an account), each violated
        in the worlds that found that part, with everything found for it there."""
        verdicts: dict[K, Verdict[list[V], U]] = {}
        for world, detail in self.violated:
            found: dict[K, list[V]] = {}
            for key, item in parts(detail):
                found.setdefault(key, []).append(item)
            for key, items in found.items():
                verdict = verdicts.setdefault(key, Verdict(every_world=self.every_world, unexamined=self.unexamined))
                verdict.violated.append((world, items))
        return verdicts

    def worst(self, severity_of: Callable[[T], Severity]) -> tuple[Severity, Verdict[T, U]]:
        """The highest severity the violations reach, and the verdict of the worlds that reach it; the
        severity is one level lower unless it is reached in every world."""
        highest = max(severity_of(detail) for _, detail in self.violated)
        reached: Verdict[T, U] = Verdict(every_world=self.every_world, unexamined=self.unexamined)
        reached.violated = [(world, detail) for world, detail in self.violated if severity_of(detail) == highest]
        return reached.severity(highest), reached

    def severity(self, base: Severity) -> Severity:
        return base if self.certain else base.lowered()

    def condition(self) -> str:
        """'' when certain, else ' (when condition UseManagedKey is true)'."""
        if self.certain or not self.violated:
            return ""
        unexamined = self._unexamined()
        chosen = [world for world, _ in self.violated]
        if len(chosen) == len(self.every_world):
            return f" ({unexamined})"
        needed = common_conditions(chosen, self.every_world)
        if needed:
            when = f"when {describe_world(needed)}"
        else:
            when = f"in some branches of {', '.join(sorted({subject for world in chosen for subject in world}))}"
        return f" ({when}; {unexamined})" if unexamined else f" ({when})"

    def _unexamined(self) -> str:
        if not self.unexamined:
            return ""
        shown = ", ".join(self.unexamined[:3]) + (f" and {len(self.unexamined) - 3} more" if len(self.unexamined) > 3 else "")
        return f"not every combination of conditions was examined; not followed: {shown}"

    def first(self) -> T:
        return self.violated[0][1]


def judge(decide: Callable[[World], Outcome]) -> Verdict:
    """``decide`` in every world of the decisions it consults."""
    known: dict[str, list[str]] = {}
    met: dict = {}  # the choices the worlds have noted (Exploring)
    runs = _Runs()
    while True:
        every = worlds(completed(known))
        outcomes: list[Outcome] = []
        widened = False
        for taken in every:
            found, outcome = runs.recall(taken)
            if not found:
                world = Exploring(taken, met)
                outcome = decide(world)
                runs.store(world.asked, outcome)
                widened = _learn(known, world.seen) or widened
            outcomes.append(outcome)
        if not widened:
            break
    enumerated = every[0].keys() if every else ()
    verdict: Verdict = Verdict(
        every_world=every, unexamined=tuple(s for s, seen in sorted(known.items()) if seen and s not in enumerated)
    )
    for world, outcome in zip(every, outcomes, strict=True):
        if isinstance(outcome, Violated):
            verdict.violated.append((world, outcome.detail))
        elif isinstance(outcome, Undecided):
            verdict.undecided.append((world, outcome.detail))
    return verdict


class _Runs:
    """The outcomes of earlier runs, as the tree of the decisions each consulted in turn.

    A check is a pure function of the outcomes it consults: the first decision it consults is
    always the same, the next depends only on that one's outcome, and so on. A world that takes
    the outcomes an earlier run consulted gets that run's outcome without running the check.
    """

    def __init__(self) -> None:
        self._root: _Ask | _Leaf | None = None

    def recall(self, taken: dict[str, str]) -> tuple[bool, Outcome]:
        node = self._root
        while isinstance(node, _Ask):
            node = node.answers.get(taken.get(node.subject))
        return (True, node.outcome) if isinstance(node, _Leaf) else (False, None)

    def store(self, asked: dict[str, str | None], outcome: Outcome) -> None:
        leaf = _Leaf(outcome)
        if not asked:
            self._root = self._root or leaf
            return
        items = list(asked.items())
        if self._root is None:
            self._root = _Ask(items[0][0], {})
        node = self._root
        for position, (subject, answer) in enumerate(items):
            if not isinstance(node, _Ask) or node.subject != subject:
                return  # not the path an earlier run took: remember nothing rather than guess
            following = _Ask(items[position + 1][0], {}) if position + 1 < len(items) else leaf
            node = node.answers.setdefault(answer, following)


@dataclass
class _Ask:
    subject: str
    answers: dict[str | None, _Ask | _Leaf]


@dataclass
class _Leaf:
    outcome: Outcome


def _learn(known: dict[str, list[str]], seen: dict[str, list[str]]) -> bool:
    """Add what a run met to the known decisions; True when something was new."""
    new = False
    for subject, outcomes in seen.items():
        noted = known.setdefault(subject, [])
        for outcome in outcomes:
            if outcome not in noted:
                noted.append(outcome)
                new = True
    return new
