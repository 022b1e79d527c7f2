"""Deciding a check over every branch of the conditions its inputs depend on.

A check states, for one world, whether its rule is violated (with the details for the message),
cannot be decided (with what to verify), or holds. ``judge`` runs it in every world and says
whether the violation is certain, conditional (the severity drops one level and the message
names the condition), or only possibly there (an info finding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .findings import Severity
from .values import Assumption, Value, World, common_conditions, decisions_in, describe_world, worlds

T = TypeVar("T")
U = TypeVar("U")


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

    @property
    def certain(self) -> bool:
        return len(self.violated) == len(self.every_world)

    def severity(self, base: Severity) -> Severity:
        return base if self.certain else base.lowered()

    def condition(self) -> str:
        """'' when certain, else ' (when condition UseManagedKey is true)'."""
        if self.certain or not self.violated:
            return ""
        chosen = [world for world, _ in self.violated]
        needed = common_conditions(chosen, self.every_world)
        if needed:
            return f" (when {describe_world(needed)})"
        subjects = sorted({subject for world in chosen for subject in world})
        return f" (in some branches of {', '.join(subjects)})"

    def first(self) -> T:
        return self.violated[0][1]


def judge(inputs: list[Value | Assumption | None], decide: Callable[[World], Outcome]) -> Verdict:
    every = worlds(decisions_in(*inputs))
    verdict: Verdict = Verdict(every_world=every)
    for world in every:
        outcome = decide(world)
        if isinstance(outcome, Violated):
            verdict.violated.append((world, outcome.detail))
        elif isinstance(outcome, Undecided):
            verdict.undecided.append((world, outcome.detail))
    return verdict
