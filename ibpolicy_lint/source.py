"""Where things are: spans in source files, and the files' text for showing them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A region of a source file. Lines and columns are 1-based; ``end_column`` is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def at(cls, file: str, line: int, column: int = 1) -> Span:
        return cls(file, line, column, line, column)

    def where(self) -> str:
        """How messages name a place: ``infra/variables.tf line 12``."""
        return f"{self.file} line {self.line}"


class SourceText:
    """The text of the files read during a scan, kept to quote the offending line in reports.

    It also records every file the scan read (``note``), which is what a cached scan must re-check.
    """

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}
        self._read: set[str] = set()
        self._quotes: dict[tuple[str, int], str] = {}

    @classmethod
    def of_quotes(cls, quotes: dict[tuple[str, int], str]) -> SourceText:
        """Only the lines a report quotes, as a cached scan keeps them."""
        text = cls()
        text._quotes = dict(quotes)
        return text

    def add(self, path: str, text: str) -> None:
        self._lines[path] = text.splitlines()
        self._read.add(path)

    def note(self, path: str) -> None:
        """A file or folder the scan read without keeping its text (a byte-level pre-filter, a
        ``file()``): its path as shown, or absolute."""
        self._read.add(path)

    def read(self) -> set[str]:
        return set(self._read)

    def paths(self) -> list[str]:
        return sorted(self._lines)

    def lines(self, path: str) -> list[str] | None:
        return self._lines.get(path)

    def line(self, path: str, number: int) -> str | None:
        lines = self._lines.get(path)
        if lines is None or not 1 <= number <= len(lines):
            return self._quotes.get((path, number))
        return lines[number - 1]
