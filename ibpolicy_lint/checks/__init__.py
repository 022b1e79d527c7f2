"""The checks: small pure functions from the estate to findings, one module per rule family."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..estate import Estate
from ..findings import Finding

Check = Callable[[Estate], Iterable[Finding]]


def emits(*rules: str) -> Callable[[Check], Check]:
    """Declare the rule IDs a check reports (used to skip checks whose rules are all deselected)."""

    def mark(check: Check) -> Check:
        check.rules = rules  # type: ignore[attr-defined]
        return check

    return mark


def all_checks() -> list[Check]:
    from . import key_policies, keys, roles

    return [*keys.CHECKS, *key_policies.CHECKS, *roles.CHECKS]


def run_checks(estate: Estate, wanted: Callable[[str], bool] = lambda rule: True) -> list[Finding]:
    findings: list[Finding] = []
    for check in all_checks():
        if any(wanted(rule) for rule in check.rules):  # type: ignore[attr-defined]
            findings.extend(check(estate))
    return findings
