"""The rule catalogue (``rules/*.yaml``): titles, severities, the AWS errors predicted, fixes, examples.

It drives ``--list-rules``, ``--explain``, report metadata and the documentation; the tests run
every example through the command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    predicts: str | None
    summary: str
    rationale: str
    fix: str
    examples: dict


def rules_dir() -> Path:
    """Inside the installed package (wheel), else the repository's top-level ``rules/``."""
    packaged = Path(__file__).parent / "rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


@lru_cache(maxsize=1)
def load_catalogue() -> dict[str, Rule]:
    rules = (rule_by_id(path.stem) for path in sorted(rules_dir().glob("IBP*.yaml")))
    return {found.id: found for found in rules if found is not None}


@cache
def rule_by_id(rule_id: str) -> Rule | None:
    """One rule of the catalogue, reading only its own file (a report needs the few rules it found)."""
    path = rules_dir() / f"{rule_id}.yaml"
    if not rule_id.isalnum() or not path.is_file():
        return None
    return Rule(**yaml.load(path.read_bytes(), Loader=_Loader))


def catalogue_errors() -> list[str]:
    """Schema violations in the catalogue, one line each (empty when valid)."""
    import jsonschema

    schema = json.loads((rules_dir() / "schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors: list[str] = []
    for path in sorted(rules_dir().glob("IBP*.yaml")):
        raw = yaml.load(path.read_bytes(), Loader=_Loader)
        for error in validator.iter_errors(raw):
            where = "/".join(str(part) for part in error.absolute_path) or "(top)"
            errors.append(f"{path.name}: {where}: {error.message}")
        if isinstance(raw, dict) and raw.get("id") != path.stem:
            errors.append(f"{path.name}: id {raw.get('id')!r} does not match the file name")
    return errors


def matches(rule_id: str, selectors: Iterable[str]) -> bool:
    """Whether a rule ID matches any selector (an ID or a prefix such as ``IBP1``).

    The one place selectors are matched: --select/--ignore, the configuration's select, ignore and
    per-path-ignores, and the rules an inline or Metadata suppression names.
    """
    return any(rule_id.startswith(selector.upper()) for selector in selectors)


def unknown_selector(selectors: Iterable[str]) -> str | None:
    """The first selector that matches no rule of the catalogue (a typo such as ``IBP7``), or None."""
    rules = load_catalogue()
    return next((selector for selector in selectors if not any(matches(rule, [selector]) for rule in rules)), None)
