"""What a check reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .source import Span


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Severity:
        return cls[name.upper()]

    def lowered(self) -> Severity:
        """One level down: a violation in only some branches of a condition."""
        return Severity(max(self.value - 1, Severity.INFO.value))


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    span: Span
    resource: str = ""
    # Both default to the rule's catalogue entry; a check sets them when it can be more exact.
    predicts: str = ""
    fix: str = ""

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.column, self.rule, self.message)
