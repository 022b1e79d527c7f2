"""A cache of whole scans: an unchanged tree gives the previous findings without reading it again.

A pre-commit hook runs on every commit, mostly over files that did not change. The cache keeps, per
scan (the paths, options, configuration, environment and tool), the findings and every file and module
folder the scan read. Each is recorded by its content (a digest; for a folder, the names in it) and by
its stamp (size, modification and change times, inode), which is how an unchanged file is recognised
without reading it, as git's index does. A file whose stamp changed but not its content (a ``git
checkout``, a restored CI cache) still counts as unchanged. A later scan reuses the findings only if
every input is unchanged and discovery finds the same files.

Entries live under ``$IBPOLICY_LINT_CACHE_DIR``, else ``$XDG_CACHE_HOME/ibpolicy-lint``, else
``~/.cache/ibpolicy-lint``; the 200 most recent are kept. They are JSON (nothing in the cache is
executed), written to a temporary file and renamed into place, so concurrent runs never see half an
entry; an entry that cannot be read is ignored and rewritten. ``--no-cache`` bypasses the cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import sys
from importlib.util import find_spec
from pathlib import Path

from . import limits
from .findings import Finding, Severity
from .source import SourceText, Span

try:  # hashlib's own BLAKE2, without loading OpenSSL as importing hashlib does (2 ms of a 70 ms run)
    from _blake2 import blake2b
except ImportError:  # not CPython
    from hashlib import blake2b

FORMAT = 2
KEEP = 200  # entries kept; the least recently written go first


def default_directory() -> Path:
    explicit = os.environ.get("IBPOLICY_LINT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ibpolicy-lint"


# A template or Terraform file larger than its cap is never read by a scan (IBP000): its stamp must do. (The
# few inputs read without a cap, a parameter file or a file() target, are hashed up to the same size; a larger
# one that is only touched is scanned again.)
_MAX_DIGESTED_BYTES = max(limits.MAX_DOCUMENT_BYTES, limits.MAX_TERRAFORM_BYTES)


def digest(path: str) -> str | None:
    """What a file holds (a folder: the names in it), for when its stamp changed but not its content,
    as after a ``git checkout`` or a CI cache restore. None for what cannot or must not be read."""
    try:
        status = os.stat(path)
        if stat.S_ISDIR(status.st_mode):
            content = "\0".join(sorted(os.listdir(path))).encode("utf-8", "surrogateescape")
        elif stat.S_ISREG(status.st_mode) and status.st_size <= _MAX_DIGESTED_BYTES:
            with open(path, "rb") as stream:
                content = stream.read(_MAX_DIGESTED_BYTES + 1)
        else:
            return None  # a FIFO or device is never opened; a huge file is not hashed
    except OSError:
        return None
    return blake2b(content, digest_size=16).hexdigest()


def stamp(path: str) -> list[int] | None:
    """Size, times and inode: what tells that a file changed without reading it (a folder's
    modification time changes when a file is added to it; the change time, on a chmod)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]


def _tool_stamp() -> str:
    """The linter's own code and rules: a changed checkout must not reuse another version's findings."""
    package = Path(__file__).parent
    from .catalogue import rules_dir

    parts = []
    for folder, pattern in ((package, "**/*.py"), (rules_dir(), "*.yaml")):
        for path in sorted(folder.glob(pattern)):
            parts.append(f"{path.name}:{stamp(str(path))}")
    return blake2b("\n".join(parts).encode(), digest_size=32).hexdigest()


def _dependencies() -> list:
    """The interpreter and the parsers the findings depend on: an upgrade must not reuse older findings.

    PyYAML is imported already, so its version is free; python-hcl2 (and lark, its parser generator)
    are recognised by the stamp of their installed ``__init__.py``, which a reinstall or upgrade
    replaces, without importing them (lark's grammar takes longer than a cached scan) or reading
    package metadata (``importlib.metadata`` alone costs tens of milliseconds to import).
    """
    import yaml

    installed = []
    for name in ("hcl2", "lark"):
        try:
            spec = find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None else None
        installed.append([name, origin, stamp(origin) if origin else None])
    return [sys.version, yaml.__version__, yaml.__with_libyaml__, installed]


class ScanCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def key(self, description: dict) -> str:
        tool = {"format": FORMAT, "tool": _tool_stamp(), "dependencies": _dependencies(), "cwd": os.getcwd()}
        description = {**description, **tool}
        return blake2b(json.dumps(description, sort_keys=True, default=str).encode(), digest_size=32).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / "scans" / f"{key}.json"

    def load(self, key: str) -> tuple[list[Finding], int, dict[tuple[str, int], str]] | None:
        """The findings, file count and quoted lines of an earlier identical scan, or None."""
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
            if entry.get("format") != FORMAT:
                return None
            restamped = False
            for path, recorded in entry["inputs"].items():
                current = stamp(path)
                if current == recorded[0]:
                    continue
                if recorded[1] is None or digest(path) != recorded[1]:
                    return None
                recorded[0], restamped = current, True  # touched, not changed: trust the new stamp next time
            findings = [_finding(item) for item in entry["findings"]]
            quotes = {(file, int(line)): quote for file, line, quote in entry["quotes"]}
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None  # no entry, or one that cannot be read: scan again
        if restamped:
            self._write(key, entry)
        return findings, int(entry["files"]), quotes

    def store(self, key: str, findings: list[Finding], files: int, inputs: set[str], text: SourceText) -> None:
        """Keep a scan's findings, the files it read, and the lines its reports quote (not whole files)."""
        spots = sorted({(finding.span.file, finding.span.line) for finding in findings})
        entry = {
            "format": FORMAT,
            "files": files,
            "inputs": {path: [stamp(path), digest(path)] for path in sorted(inputs)},
            "findings": [_record(finding) for finding in findings],
            "quotes": [[file, line, quote] for file, line in spots if (quote := text.line(file, line)) is not None],
        }
        self._write(key, entry)

    def _write(self, key: str, entry: dict) -> None:
        target = self._path(key)
        temporary = target.with_name(f".tmp-{os.getpid()}-{target.name}")  # one writer per process and entry
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError:
            return  # a read-only cache directory only costs speed
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(entry, stream)
            os.replace(temporary, target)
            _prune(target.parent)
        except OSError:
            with contextlib.suppress(OSError):  # a full disk: leave no half-written file behind
                os.unlink(temporary)


def _prune(folder: Path) -> None:
    """Each set of paths a hook passes makes its own entry; keep the cache from growing without end."""
    entries = []
    for path in folder.glob("*.json"):
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    if len(entries) <= KEEP:
        return
    for _, path in sorted(entries)[: len(entries) - KEEP]:
        try:
            path.unlink()
        except OSError:
            continue


def _record(finding: Finding) -> list:
    """A finding as JSON: its fields in order, the span as a list of its own (``astuple`` recurses)."""
    return list(dataclasses.astuple(finding))


def _finding(item: list) -> Finding:
    rule, severity, message, span, *rest = item
    return Finding(rule, Severity(severity), message, Span(*span), *rest)
