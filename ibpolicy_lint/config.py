"""Configuration: ``.ibpolicy-lint.yaml``, or ``[tool.ibpolicy-lint]`` in ``pyproject.toml``.

Found upward from the current directory (or named with ``--config``) and validated against a JSON
Schema; an unknown key or a wrong type is a usage error naming the key and the file. Paths in the
configuration (``exclude``, ``accounts.*.paths``, ``per-path-ignores``) are globs relative to the
folder holding the configuration file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .discover import display_path, glob_to_regex

CONFIG_NAMES = (".ibpolicy-lint.yaml", ".ibpolicy-lint.yml")

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "select": {"type": "array", "items": {"type": "string", "pattern": "^[Ii][Bb][Pp][0-9]{0,3}$"}},
        "ignore": {"type": "array", "items": {"type": "string", "pattern": "^[Ii][Bb][Pp][0-9]{0,3}$"}},
        "fail-on": {"enum": ["error", "warning", "info", "never"]},
        "exclude": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "accounts": {
            "type": "object",
            "propertyNames": {"pattern": "^[0-9]{12}$"},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["paths"],
                "properties": {
                    "name": {"type": "string"},
                    "paths": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                },
            },
        },
        "per-path-ignores": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string", "pattern": "^[Ii][Bb][Pp][0-9]{0,3}$"}},
        },
    },
}


class ConfigError(Exception):
    """The configuration cannot be used: one line for the user, naming the file and the key."""


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    patterns: tuple  # compiled globs, relative to the configuration's folder


@dataclass
class Config:
    path: Path | None = None  # None: no configuration file
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    fail_on: str | None = None
    exclude_patterns: list = field(default_factory=list)  # compiled globs
    accounts: list[Account] = field(default_factory=list)
    per_path_ignores: list[tuple] = field(default_factory=list)  # (compiled glob, [rule selectors])

    @property
    def root(self) -> Path:
        """The folder the globs are relative to. A path is matched as ``display_path`` shows it from
        there: lexically (not through symbolic links), with '/' separators."""
        return self.path.parent if self.path is not None else Path.cwd()

    def account_for(self, path: Path) -> Account | None:
        """The account the configuration says a source file (or folder) deploys to."""
        if not self.accounts:
            return None
        relative = display_path(path, self.root)
        for account in self.accounts:
            if any(pattern.match(relative) or pattern.match(relative + "/") for pattern in account.patterns):
                return account
        return None

    def excludes(self, path: Path) -> bool:
        """Whether ``exclude`` leaves a file or folder out of the scan."""
        if not self.exclude_patterns:
            return False
        relative = display_path(path, self.root)
        return any(pattern.match(relative) or pattern.match(relative + "/") for pattern in self.exclude_patterns)

    def ignored_here(self, path: Path) -> list[str]:
        if not self.per_path_ignores:
            return []
        relative = display_path(path, self.root)
        return [rule for pattern, rules in self.per_path_ignores if pattern.match(relative) for rule in rules]


def find_config() -> Path | None:
    """The nearest ``.ibpolicy-lint.yaml``, or ``pyproject.toml`` with a ``[tool.ibpolicy-lint]`` table,
    from the current directory upward."""
    folder = Path.cwd().resolve()
    for candidate in (folder, *folder.parents):
        for name in CONFIG_NAMES:
            if (candidate / name).is_file():
                return candidate / name
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "[tool.ibpolicy-lint]" in pyproject.read_text(encoding="utf-8", errors="replace"):
            return pyproject
    return None


def load_config(explicit: str | None = None) -> Config:
    found = Path(explicit) if explicit else find_config()
    if found is None:
        return Config()
    path = Path(os.path.relpath(found)) if found.is_absolute() and _inside_cwd(found) else found
    raw = _read(path, explicit is not None)
    _validate(raw, path)
    _check_rules(raw, path)
    return _build(raw, path)


def _inside_cwd(path: Path) -> bool:
    return Path.cwd().resolve() in path.resolve().parents


def _read(path: Path, explicit: bool) -> dict:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    if path.name == "pyproject.toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            table = tomllib.loads(data.decode("utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        tool = table.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{path}: tool: must be a table ([tool.ibpolicy-lint]), not {type(tool).__name__}")
        section = tool.get("ibpolicy-lint")
        if section is None:
            if explicit:
                raise ConfigError(f"{path}: has no [tool.ibpolicy-lint] table")
            return {}
        return section
    from .documents import DocumentError, parse_yaml

    try:
        document = parse_yaml(data, str(path))
    except DocumentError as error:
        where = f" (line {error.line})" if error.line else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {error.reason}") from None
    plain = _plain(document.root)
    if plain is None:
        return {}
    if not isinstance(plain, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys (select, ignore, accounts, …)")
    return plain


def _plain(value):
    """YAML values as plain data, scalars as their source text (account IDs stay text)."""
    from .values import ListValue, MapValue, Scalar, Text

    if isinstance(value, MapValue):
        return {key: _plain(item) for key, item in value.entries.items()}
    if isinstance(value, ListValue):
        return [_plain(item) for item in value.items]
    if isinstance(value, Text):
        return value.literal
    if isinstance(value, Scalar):
        return value.value
    return None


def _validate(raw: dict, path: Path) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and not where:
        unknown = sorted(set(raw) - set(SCHEMA["properties"]))
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(SCHEMA['properties'])})")
    if error.validator == "additionalProperties":
        raise ConfigError(f"{path}: {where}: {error.message}")
    if error.validator == "propertyNames":
        raise ConfigError(f"{path}: {where}: {json.dumps(error.instance)} is not a 12-digit account ID")
    raise ConfigError(f"{path}: {where or '(top)'}: {error.message}")


def _check_rules(raw: dict, path: Path) -> None:
    """Every rule ID or prefix the configuration names must match a rule: a typo would silently do nothing."""
    from .catalogue import unknown_selector

    named = [("select", raw.get("select")), ("ignore", raw.get("ignore"))]
    named += [(f"per-path-ignores: {pattern}", rules) for pattern, rules in (raw.get("per-path-ignores") or {}).items()]
    for where, selectors in named:
        unknown = unknown_selector(rule.upper() for rule in selectors or [])
        if unknown is not None:
            raise ConfigError(f"{path}: {where}: {unknown} matches no rule (see --list-rules)")


def _build(raw: dict, path: Path) -> Config:
    accounts = [
        Account(account_id, str(entry.get("name") or account_id), tuple(glob_to_regex(p) for p in entry["paths"]))
        for account_id, entry in (raw.get("accounts") or {}).items()
    ]
    per_path = [
        (glob_to_regex(pattern), [rule.upper() for rule in rules])
        for pattern, rules in (raw.get("per-path-ignores") or {}).items()
    ]
    return Config(
        path=path,
        select=[rule.upper() for rule in raw.get("select") or []],
        ignore=[rule.upper() for rule in raw.get("ignore") or []],
        fail_on=raw.get("fail-on"),
        exclude_patterns=[glob_to_regex(pattern) for pattern in raw.get("exclude") or []],
        accounts=accounts,
        per_path_ignores=per_path,
    )
