"""The value domain shared by every loader and check.

A property's value is *known* (``Text``, ``Scalar``, ``ListValue``, ``MapValue``), *unknown* with the
reason (``Unknown``), or a *choice* between branches of a named decision (``Choice``: a CloudFormation
condition, a Terraform conditional). Text may hold symbols for parts whose characters the sources do
not give but whose meaning they do: the source account, the build Region, a resource's ARN.

Checks never look at choices directly: they ``select`` each value in a *world* (one outcome per
decision) and ask ``holds`` whether a resource exists there, so every branch is evaluated and a
finding can name the decision it rests on. The worlds a check is judged in (``verdicts.judge``) are
those of the decisions it consults, which an ``Exploring`` world notes as ``select`` and ``holds``
ask it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product

from .source import Span

# A decision and the outcome taken, e.g. ("condition UseManagedKey", "true").
Condition = tuple[str, str]
Assumption = frozenset  # of Condition
World = Mapping[str, str]
ALWAYS: Assumption = frozenset()

# Beyond this many worlds, further decisions are treated as unknown rather than enumerated.
MAX_WORLDS = 256


# --- symbols: parts of a text known by meaning, not by characters -----------------------------


class Symbol:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class AccountOf(Symbol):
    """The account a deployment (a stack, a provider configuration) deploys to."""

    deployment: str
    label: str = field(default="account", compare=False)


@dataclass(frozen=True, slots=True)
class RegionOf(Symbol):
    """The Region a deployment deploys to."""

    deployment: str
    label: str = field(default="region", compare=False)


@dataclass(frozen=True, slots=True)
class PartitionOf(Symbol):
    deployment: str
    label: str = field(default="partition", compare=False)


@dataclass(frozen=True, slots=True)
class Attribute(Symbol):
    """An attribute of a resource in the sources. ``attribute`` uses the neutral names below."""

    resource: str
    attribute: str
    label: str = field(default="", compare=False)  # as the sources write it: "MyKey.Arn", "aws_kms_key.ami.arn"


@dataclass(frozen=True, slots=True)
class Opaque(Symbol):
    """A part whose value the sources do not give."""

    reason: str
    label: str = field(default="…", compare=False)


# Neutral attribute names that loaders translate their syntax into.
ARN = "arn"
KEY_ID = "key_id"
ALIAS_NAME = "alias_name"
NAME = "name"

Part = str | Symbol


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, kw_only=True)
class Value:
    span: Span
    # Where the value came from when that is not where it is used, e.g. "default of parameter KeyArn".
    origin: str = ""


@dataclass(frozen=True, eq=False, kw_only=True)
class Text(Value):
    parts: tuple[Part, ...]

    @property
    def literal(self) -> str | None:
        """The text when every character is known."""
        if all(isinstance(part, str) for part in self.parts):
            return "".join(self.parts)  # type: ignore[arg-type]
        return None

    @property
    def symbol(self) -> Symbol | None:
        """The symbol when the whole text is one symbol (a bare ``Ref``, an attribute reference)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Symbol):
            return self.parts[0]
        return None

    def shown(self) -> str:
        """The text as a person would write it, symbols by their labels: ``arn:aws:kms:${AWS::Region}:…``."""
        symbol = self.symbol
        if symbol is not None:
            return symbol.label  # type: ignore[attr-defined]
        return "".join(part if isinstance(part, str) else "${" + part.label + "}" for part in self.parts)  # type: ignore[attr-defined]

    def shape(self) -> tuple[str, list[Symbol]]:
        """The text with each symbol replaced by a placeholder (``\\x00<n>\\x00``), and the symbols.

        Placeholders hold no ``:`` or ``/``, so ARN patterns match around symbols.
        """
        symbols: list[Symbol] = []
        shape = ""
        for part in self.parts:
            if isinstance(part, str):
                shape += part
            else:
                shape += f"\x00{len(symbols)}\x00"
                symbols.append(part)
        return shape, symbols

    def opaque_reason(self) -> str | None:
        for part in self.parts:
            if isinstance(part, Opaque):
                return part.reason
        return None


def symbol_at(segment: str, symbols: list[Symbol]) -> Symbol | None:
    """The symbol a piece of a ``Text.shape`` stands for, when the piece is exactly one placeholder."""
    match = re.fullmatch("\x00(\\d+)\x00", segment)
    return symbols[int(match.group(1))] if match else None


@dataclass(frozen=True, eq=False, kw_only=True)
class Scalar(Value):
    """A non-string literal: boolean, number or null."""

    value: bool | int | float | None


@dataclass(frozen=True, eq=False, kw_only=True)
class ListValue(Value):
    items: tuple[Value, ...]


@dataclass(frozen=True, eq=False, kw_only=True)
class MapValue(Value):
    entries: dict[str, Value]
    key_spans: dict[str, Span] = field(default_factory=dict)

    def get(self, key: str) -> Value | None:
        return self.entries.get(key)


@dataclass(frozen=True, eq=False, kw_only=True)
class Unknown(Value):
    reason: str


@dataclass(frozen=True, eq=False, kw_only=True)
class Absent(Value):
    """Explicitly no value: ``AWS::NoValue``, Terraform ``null``."""


@dataclass(frozen=True, eq=False, kw_only=True)
class Choice(Value):
    subject: str
    branches: tuple[tuple[str, Value], ...]


def text(literal: str, span: Span, origin: str = "") -> Text:
    return Text(parts=(literal,), span=span, origin=origin)


def join_parts(pieces: Iterable[Part]) -> tuple[Part, ...]:
    """Concatenate parts, merging adjacent literal strings."""
    merged: list[Part] = []
    for piece in pieces:
        if isinstance(piece, str):
            if not piece:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + piece
                continue
        merged.append(piece)
    return tuple(merged)


def with_origin(value: Value, span: Span, origin: str) -> Value:
    """The same value, reported at ``span`` (where it is used) and saying where it came from."""
    combined = origin if not value.origin else f"{value.origin}, via {origin}"
    return _replace(value, span=span, origin=combined)


def _replace(value: Value, **changes) -> Value:
    fields = {name: getattr(value, name) for name in value.__dataclass_fields__}
    fields.update(changes)
    return type(value)(**fields)


# --- reading values ----------------------------------------------------------------------------


def as_bool(value: Value | None) -> bool | None:
    """True or False when the value is certainly that boolean (``true``, ``"true"``), else None."""
    if isinstance(value, Scalar) and isinstance(value.value, bool):
        return value.value
    if isinstance(value, Text) and value.literal is not None:
        lowered = value.literal.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def is_absent(value: Value | None) -> bool:
    return value is None or isinstance(value, Absent) or (isinstance(value, Scalar) and value.value is None)


def field_of(value: Value | None, *keys: str) -> Value | None:
    """The value at ``keys`` inside nested maps, following every branch of a choice."""
    for key in keys:
        if value is None:
            return None
        value = _field(value, key)
    return value


def _field(value: Value, key: str) -> Value | None:
    if isinstance(value, MapValue):
        return value.entries.get(key)
    if isinstance(value, Choice):
        branches = tuple((outcome, _field(branch, key) or Absent(span=branch.span)) for outcome, branch in value.branches)
        if all(isinstance(branch, Absent) for _, branch in branches):
            return None
        return Choice(subject=value.subject, branches=branches, span=value.span, origin=value.origin)
    if isinstance(value, Unknown):
        return value
    return None


def members(value: Value | None, assumption: Assumption = ALWAYS) -> list[tuple[Assumption, Value]]:
    """The items of a list, each with the assumption under which it is present.

    A choice of lists, or an item that is a choice, gives each branch's items under that branch.
    An unknown list gives one unknown member.
    """
    if value is None or isinstance(value, Absent):
        return []
    if isinstance(value, Choice):
        found: list[tuple[Assumption, Value]] = []
        for outcome, branch in value.branches:
            found.extend(members(branch, assumption | {(value.subject, outcome)}))
        return found
    if isinstance(value, ListValue):
        found = []
        for item in value.items:
            found.extend(alternatives(item, assumption))
        return found
    return [(assumption, value)]


def alternatives(value: Value, assumption: Assumption = ALWAYS, keep_absent: bool = False) -> list[tuple[Assumption, Value]]:
    """Each branch of a value's top-level choices, with the outcomes that lead to it; absent branches
    only with ``keep_absent`` (a Terraform count of null is not a count of nothing)."""
    if isinstance(value, Choice):
        found: list[tuple[Assumption, Value]] = []
        for outcome, branch in value.branches:
            found.extend(alternatives(branch, assumption | {(value.subject, outcome)}, keep_absent))
        return found
    if is_absent(value) and not keep_absent:
        return []
    return [(assumption, value)]


# --- worlds ------------------------------------------------------------------------------------


def decisions_in(*items: Value | Assumption | None) -> dict[str, tuple[str, ...]]:
    """Every decision (and its outcomes) that the given values or assumptions depend on.

    A decision seen with one outcome only (a resource's condition, a ``count`` the sources do
    not give) also gets the outcome where that one does not hold (``completed``).
    """
    return completed(_outcomes_in(items))


def _outcomes_in(items: Iterable[Value | Assumption | None]) -> dict[str, list[str]]:
    """The outcomes the values and assumptions name for each decision, in the order they name them."""
    found: dict[str, list[str]] = {}

    def note(subject: str, outcome: str) -> None:
        outcomes = found.setdefault(subject, [])
        if outcome not in outcomes:
            outcomes.append(outcome)

    stack: list = [item for item in items if item is not None]
    while stack:
        item = stack.pop()
        if isinstance(item, frozenset):
            for subject, outcome in item:
                note(subject, outcome)
        elif isinstance(item, Choice):
            for outcome, branch in item.branches:
                note(item.subject, outcome)
                stack.append(branch)
        elif isinstance(item, ListValue):
            stack.extend(item.items)
        elif isinstance(item, MapValue):
            stack.extend(item.entries.values())
    return found


def completed(decisions: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Decisions sorted by subject, each seen with one outcome only given the one where it does not hold.

    Only a yes/no decision has such an outcome. A decision over named values (a mapping key such as
    the Region) takes one of the values the sources name: any other makes the look-up fail, which is
    no deployment to judge, not a world in which the value is missing.
    """
    found: dict[str, tuple[str, ...]] = {}
    for subject in sorted(decisions):
        outcomes = tuple(decisions[subject])
        if len(outcomes) == 1 and (other := opposite(outcomes[0])) is not None:
            outcomes = (*outcomes, other)
        if outcomes:
            found[subject] = outcomes
    return found


def opposite(outcome: str) -> str | None:
    """The outcome where ``outcome`` does not hold: true/false, "not 0"/"0"; None for a named value."""
    if outcome in ("true", "false"):
        return "false" if outcome == "true" else "true"
    if outcome.startswith("not "):
        return outcome.removeprefix("not ")
    return None


def worlds(decisions: Mapping[str, tuple[str, ...]]) -> list[dict[str, str]]:
    """Every combination of outcomes, up to MAX_WORLDS (later decisions stay undecided)."""
    subjects: list[str] = []
    count = 1
    for subject, outcomes in decisions.items():
        if count * len(outcomes) > MAX_WORLDS:
            break
        subjects.append(subject)
        count *= len(outcomes)
    return [dict(zip(subjects, combo, strict=True)) for combo in product(*(decisions[s] for s in subjects))]


class Exploring(Mapping[str, str]):
    """A world that notes what it is asked: ``judge`` learns from it which decisions a check consults.

    ``asked`` holds every decision ``holds`` or ``select`` consulted, in the order first asked, and
    the outcome this world takes (None: it takes none); ``seen`` every outcome met for those
    decisions and, for a choice the world takes no outcome for, for the decisions nested in its
    branches.
    """

    __slots__ = ("_taken", "_met", "asked", "seen")

    def __init__(self, taken: Mapping[str, str], met: dict[tuple[int, bool], Choice] | None = None) -> None:
        self._taken = dict(taken)
        # The choices already noted, by identity and whether this world took an outcome for them; shared
        # by the worlds of one judgement, which learns every note. Holding the choices keeps identities unique.
        self._met: dict[tuple[int, bool], Choice] = {} if met is None else met
        self.asked: dict[str, str | None] = {}
        self.seen: dict[str, list[str]] = {}

    def __getitem__(self, subject: str) -> str:
        return self._taken[subject]

    def __iter__(self) -> Iterator[str]:
        return iter(self._taken)

    def __len__(self) -> int:
        return len(self._taken)

    def holds(self, assumption: Assumption) -> bool:
        for subject, outcome in assumption:
            taken = self._ask(subject)
            seen = self.seen[subject]
            if outcome not in seen:
                seen.append(outcome)
            if taken is not None and taken != outcome:
                return False
        return True

    def choose(self, choice: Choice) -> str | None:
        taken = self._ask(choice.subject)
        met = (id(choice), taken is None)
        if met not in self._met:
            self._met[met] = choice
            self.note(_outcomes_in([choice]) if taken is None else {choice.subject: [o for o, _ in choice.branches]})
        return taken

    def _ask(self, subject: str) -> str | None:
        taken = self._taken.get(subject)
        if subject not in self.asked:
            self.asked[subject] = taken
            self.seen.setdefault(subject, [])
        return taken

    def note(self, decisions: Mapping[str, Iterable[str]]) -> None:
        for subject, outcomes in decisions.items():
            seen = self.seen.setdefault(subject, [])
            seen.extend(outcome for outcome in outcomes if outcome not in seen)


def choice_over(decisions: Mapping[str, tuple[str, ...]], compute, span: Span, world: dict[str, str] | None = None) -> Value:
    """A nested choice over ``decisions`` whose leaves are ``compute(world)``.

    Used to push a function through choices in its arguments: ``Fn::Join`` over a list holding
    an ``Fn::If`` becomes a choice of joined texts.
    """
    world = dict(world or {})
    pending = [s for s in decisions if s not in world]
    if not pending:
        return compute(world)
    subject = pending[0]
    branches = tuple(
        (outcome, choice_over(decisions, compute, span, {**world, subject: outcome})) for outcome in decisions[subject]
    )
    return Choice(subject=subject, branches=branches, span=span)


def holds(assumption: Assumption, world: World) -> bool:
    """Whether the world takes every outcome of the assumption (a decision it does not take counts as taken)."""
    if type(world) is Exploring:
        return world.holds(assumption)
    return all(world.get(subject, outcome) == outcome for subject, outcome in assumption)


def select(value: Value | None, world: World) -> Value | None:
    """The value in one world: every choice replaced by the branch the world takes."""
    if value is None:
        return None
    if isinstance(value, Choice):
        outcome = world.choose(value) if type(world) is Exploring else world.get(value.subject)
        if outcome is None:
            return Unknown(reason=f"too many combinations to follow {value.subject}", span=value.span)
        for branch_outcome, branch in value.branches:
            if branch_outcome == outcome:
                return select(branch, world)
        # Not "no value": a branch the sources do not write is a value they do not give.
        return Unknown(reason=f"{value.subject} takes a value this choice has no branch for", span=value.span)
    if isinstance(value, ListValue):
        items = tuple(item for item in (select(i, world) for i in value.items) if not isinstance(item, Absent))
        return ListValue(items=items, span=value.span, origin=value.origin)
    if isinstance(value, MapValue):
        entries = {k: v for k, v in ((k, select(v, world)) for k, v in value.entries.items()) if not isinstance(v, Absent)}
        return MapValue(entries=entries, key_spans=value.key_spans, span=value.span, origin=value.origin)  # type: ignore[arg-type]
    return value


def describe_world(world: World, relevant: Iterable[str] | None = None) -> str:
    """ "UseManagedKey is true and var.share is false"."""
    subjects = sorted(world) if relevant is None else [s for s in sorted(world) if s in set(relevant)]
    return " and ".join(f"{subject} is {world[subject]}" for subject in subjects)


def common_conditions(chosen: list[dict[str, str]], every: list[dict[str, str]]) -> dict[str, str]:
    """The smallest set of outcomes shared by the chosen worlds that tells them apart from the rest."""
    if not chosen:
        return {}
    shared = {s: o for s, o in chosen[0].items() if all(w.get(s) == o for w in chosen)}
    others = [w for w in every if w not in chosen]
    needed: dict[str, str] = {}
    for subject, outcome in shared.items():
        needed[subject] = outcome
        if not any(all(w.get(s) == o for s, o in needed.items()) for w in others):
            return needed
    return shared


def iter_texts(value: Value | None) -> Iterator[Text]:
    """Every text inside a value (used to search documents for account IDs and ARNs)."""
    stack = [value] if value is not None else []
    while stack:
        item = stack.pop()
        if isinstance(item, Text):
            yield item
        elif isinstance(item, ListValue):
            stack.extend(item.items)
        elif isinstance(item, MapValue):
            stack.extend(item.entries.values())
        elif isinstance(item, Choice):
            stack.extend(branch for _, branch in item.branches)


# --- computing through choices -------------------------------------------------------------------


def literal_text(value: Value | None) -> str | None:
    """The literal text of a text or scalar (booleans as ``true``/``false``), else None."""
    if isinstance(value, Text):
        return value.literal
    if isinstance(value, Scalar) and value.value is not None:
        return str(value.value).lower() if isinstance(value.value, bool) else str(value.value)
    return None


def through_choices(values: list[Value], compute, span: Span) -> Value:
    """``compute(values)`` in every branch of the choices the values hold: a choice of results.

    Used to push functions through choices in their arguments: ``Fn::Join`` over a list holding
    an ``Fn::If``, a Terraform template interpolating a conditional.
    """
    # Only the outcomes the choices list: a branch none of them has would select nothing.
    decisions = {subject: tuple(outcomes) for subject, outcomes in sorted(_outcomes_in(values).items())}
    if not decisions:
        return compute(values)
    count = 1
    for outcomes in decisions.values():
        count *= len(outcomes)
    if count > MAX_WORLDS:
        return Unknown(reason="too many combinations of conditions", span=span)
    return choice_over(decisions, lambda world: compute([select(value, world) for value in values]), span)


def concatenate(pieces: list[Value | str], span: Span) -> Value:
    """Join strings and text values into one text; a choice among the pieces gives a choice of texts."""
    values = [piece for piece in pieces if not isinstance(piece, str)]

    def joined(resolved: list[Value]) -> Value:
        resolved_items = iter(resolved)
        parts: list = []
        origins: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                parts.append(piece)
                continue
            item = next(resolved_items)
            if isinstance(item, Unknown):
                return Unknown(reason=item.reason, span=span, origin=item.origin)
            if isinstance(item, Text):
                parts.extend(item.parts)
            elif literal_text(item) is not None:
                parts.append(literal_text(item))
            else:
                return Unknown(reason="a list, map or null inside a string", span=span)
            if item.origin and item.origin not in origins:
                origins.append(item.origin)
        return Text(parts=join_parts(parts), span=span, origin="; ".join(origins))

    return through_choices(values, joined, span)


def relocated(value: Value, span: Span, origin: str) -> Value:
    """The value reported where it is used (``span``), every part saying where it came from.

    A Terraform variable, local or module output is reported where the resource uses it; the
    message names its origin (RULES.md section 2, "Where a finding points").
    """

    def move(item: Value) -> Value:
        combined = item.origin if not origin else origin if not item.origin else f"{item.origin}, via {origin}"
        if isinstance(item, Choice):
            branches = tuple((outcome, move(branch)) for outcome, branch in item.branches)
            return Choice(subject=item.subject, branches=branches, span=span, origin=combined)
        if isinstance(item, ListValue):
            return ListValue(items=tuple(move(child) for child in item.items), span=span, origin=combined)
        return _replace(item, span=span, origin=combined)

    return move(value)


def from_python(data, span: Span) -> Value:
    """A value from decoded JSON (``jsondecode``, plan files), every part at ``span``."""
    if isinstance(data, str):
        return text(data, span)
    if isinstance(data, dict):
        return MapValue(entries={str(k): from_python(v, span) for k, v in data.items()}, span=span)
    if isinstance(data, list):
        return ListValue(items=tuple(from_python(item, span) for item in data), span=span)
    if data is None:
        return Absent(span=span)
    return Scalar(value=data, span=span)


def moved(value: Value, lines: int, columns: int, fixed: Span | None = None) -> Value:
    """The same value tree at other positions: ``lines`` down and ``columns`` right, or all at ``fixed``.

    For documents embedded in a file (a StackSet's inline template in a block scalar).
    """

    def place(span: Span) -> Span:
        if fixed is not None:
            return fixed
        return Span(span.file, span.line + lines, span.column + columns, span.end_line + lines, span.end_column + columns)

    def move(item: Value) -> Value:
        if isinstance(item, MapValue):
            entries = {key: move(child) for key, child in item.entries.items()}
            key_spans = {key: place(span) for key, span in item.key_spans.items()}
            return MapValue(entries=entries, key_spans=key_spans, span=place(item.span), origin=item.origin)
        if isinstance(item, ListValue):
            return ListValue(items=tuple(move(child) for child in item.items), span=place(item.span), origin=item.origin)
        if isinstance(item, Choice):
            branches = tuple((outcome, move(branch)) for outcome, branch in item.branches)
            return Choice(subject=item.subject, branches=branches, span=place(item.span), origin=item.origin)
        return _replace(item, span=place(item.span))

    return move(value)
