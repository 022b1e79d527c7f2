"""Finding the files to read: walk the paths given, classify by name, honour excludes.

Symlinked folders are never followed (their targets inside the tree are scanned where they are;
outside it they are not ours to read). A symlinked file is read only when its target is inside
the scanned tree. Only regular files are opened: a FIFO or device in the tree cannot hang a scan.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# Folders that hold tools' state, not the user's sources. `.terraform` is read only through module references.
DEFAULT_EXCLUDED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".terraform", "node_modules", ".venv", "venv", ".tox", ".nox",
        "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".cache",
    }
)  # fmt: skip

DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json", ".template")
TERRAFORM_SUFFIXES = (".tf", ".tf.json")
TFVARS_SUFFIXES = (".tfvars", ".tfvars.json")


@dataclass(frozen=True)
class Candidate:
    path: Path  # as the operating system opens it
    display: str  # relative to the current directory, with "/" separators
    kind: str  # "document" (YAML/JSON that may be a template), "terraform", "terraform-json"


@dataclass(frozen=True)
class Unreadable:
    display: str
    reason: str


def classify(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(TFVARS_SUFFIXES):
        return None  # read by the Terraform loader beside its module, or named with --var-file
    if lowered.endswith(".tf.json"):
        return "terraform-json"
    if lowered.endswith(".tf"):
        return "terraform"
    if lowered.endswith(DOCUMENT_SUFFIXES):
        return "document"
    return None


def display_path(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd`` with '/' separators: how reports name files, and how the
    configuration's globs see them (``cwd`` is then the configuration's folder). Lexical, not through
    symbolic links: a file is named by where it is in the tree, as the user sees it."""
    try:
        relative = os.path.relpath(path, cwd)
    except ValueError:  # another drive on Windows
        relative = str(path)
    return _printable(relative.replace(os.sep, "/"))


def _printable(name: str) -> str:
    """A name that is not valid UTF-8 keeps its bytes as \\xNN escapes, so every report can print it."""
    if name.isascii():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def discover(paths: Iterable[str], excluded: Callable[[Path], bool] | None = None) -> tuple[list[Candidate], list[Unreadable]]:
    """The files to read under ``paths`` (sorted, without duplicates), and paths that cannot be read."""
    cwd = Path.cwd()
    excluded = excluded or (lambda path: False)
    found: dict[str, Candidate] = {}
    problems: list[Unreadable] = []
    for given in paths:
        path = Path(given)
        display = display_path(path, cwd)
        if path.is_symlink() and not path.exists():
            problems.append(Unreadable(display, _dangling(path)))
        elif path.is_dir():
            _walk(path, cwd, excluded, found, problems)
        elif path.exists():
            kind = classify(path.name)
            if kind is not None and not excluded(path):
                problem = _not_regular(path)
                if problem:
                    problems.append(Unreadable(display, problem))
                else:
                    found.setdefault(display, Candidate(path, display, kind))
        else:
            problems.append(Unreadable(display, "does not exist"))
    return [found[key] for key in sorted(found)], problems


def _walk(
    root: Path, cwd: Path, excluded: Callable[[Path], bool], found: dict[str, Candidate], problems: list[Unreadable]
) -> None:
    real_root = os.path.realpath(root)
    root_display = display_path(root, cwd)
    pending = [(root, root_display)]
    while pending:
        folder, folder_display = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            problems.append(Unreadable(folder_display, f"cannot be listed: {error.strerror or error}"))
            continue
        for entry in entries:
            # Built from the folder's display, not computed per file: a scan may hold 10,000 files.
            name = _printable(entry.name)
            display = name if folder_display == "." else f"{folder_display}/{name}"
            try:
                is_link = entry.is_symlink()
                if entry.is_dir(follow_symlinks=False):
                    path = Path(entry.path)
                    if entry.name not in DEFAULT_EXCLUDED_DIRS and not excluded(path):
                        if not os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):  # a virtual environment
                            pending.append((path, display))
                    continue
                is_regular = not is_link and entry.is_file(follow_symlinks=False)
            except OSError:
                is_link = is_regular = False
            kind = classify(entry.name)
            if kind is None:
                continue
            path = Path(entry.path)
            if excluded(path):
                continue
            if is_link:
                if os.path.isdir(path):  # a symlinked folder with a file-like name (False for a loop)
                    continue
                target = os.path.realpath(path)
                if not os.path.exists(target):
                    problems.append(Unreadable(display, _dangling(path)))
                    continue
                if os.path.commonpath([real_root, target]) != real_root:
                    continue  # points out of the scanned tree
            problem = None if is_regular else _not_regular(path)
            if problem:
                problems.append(Unreadable(display, problem))
                continue
            found.setdefault(display, Candidate(path, display, kind))


def _dangling(path: Path) -> str:
    """Why a symbolic link leads to no file: a loop, or a target that does not exist."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link loop; not read"
    return "is a broken symbolic link; not read"


def _not_regular(path: Path) -> str | None:
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device)"
    return None


def glob_to_regex(pattern: str) -> re.Pattern:
    """A path glob: ``*`` within a segment, ``**`` across segments, ``?`` one character.

    A pattern without a slash matches at any depth (like ``.gitignore``); a trailing ``/**``
    also matches the folder itself.
    """
    pattern = pattern.strip()
    if pattern.startswith("./"):
        pattern = pattern[2:]
    anchored = "/" in pattern.rstrip("/")
    out = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
            continue
        if pattern.startswith("**", index):
            out += ".*"
            index += 2
            continue
        out += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
        index += 1
    if out.endswith("/.*"):
        out = out[:-3] + "(?:/.*)?"
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{out}/?$")
