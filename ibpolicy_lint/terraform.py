"""Terraform configurations into the neutral model, evaluated as Terraform would as far as the sources allow.

Each folder of ``.tf``/``.tf.json`` files is a module. Folders that no other scanned module calls
are roots: their variables take ``terraform.tfvars``, ``*.auto.tfvars`` and ``--var-file`` values
(in Terraform's order) or their defaults. Local modules are followed with their inputs and
outputs, vendored ones through ``.terraform/modules/modules.json``; a remote module without a
local copy gives unknown outputs. ``count``, ``for_each`` and ``dynamic`` blocks expand into every
instance; an unknown collection becomes a condition the findings name, never a guess.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any

from . import limits
from . import terraform_syntax as syntax
from .documents import DocumentError, as_utf8, decode, parse_json
from .model import (
    ContainerRecipe,
    Deployment,
    DistributionConfiguration,
    DistributionEntry,
    EbsDefaultKey,
    EbsEncryptionByDefault,
    ImageBuild,
    ImageLookup,
    ImageRecipe,
    KeyLookup,
    KmsAlias,
    KmsGrant,
    KmsKey,
    LaunchPermission,
    ManagedPolicy,
    Resource,
    Role,
    RolePolicy,
    Volume,
)
from .source import Span
from .values import (
    ALIAS_NAME,
    ALWAYS,
    ARN,
    KEY_ID,
    NAME,
    Absent,
    AccountOf,
    Assumption,
    Attribute,
    Choice,
    ListValue,
    MapValue,
    Opaque,
    PartitionOf,
    RegionOf,
    Scalar,
    Text,
    Unknown,
    Value,
    alternatives,
    as_bool,
    concatenate,
    decisions_in,
    field_of,
    is_absent,
    literal_text,
    members,
    opposite,
    relocated,
    text,
    through_choices,
    with_origin,
    worlds,
)

_MAX_INSTANCES = 64
_META_ARGUMENTS = frozenset({"count", "for_each", "provider", "providers", "depends_on", "lifecycle", "source", "version"})
_SKIPPED_BLOCKS = frozenset({"lifecycle", "provisioner", "connection", "timeouts"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_ROLE_ARN_ACCOUNT = re.compile(r"^arn:[^:]+:iam::(\d{12}):")
_PROVIDER_SETTINGS = frozenset({"region", "assume_role", "allowed_account_ids"})  # what provider_settings reads


class Missing(Unknown):
    """An attribute or key that certainly does not exist (``try()`` skips it)."""


@dataclass(frozen=True, eq=False, kw_only=True)
class Undecided(Unknown):
    """A value the sources leave to plan time, named by where it comes from (``var.flag``, a key of it, a data
    source's attribute): a conditional on it is that decision in whatever module tests it."""

    decision: str


# --- files and modules -----------------------------------------------------------------------------


@dataclass
class ModuleSource:
    """A folder's Terraform files, parsed and sorted into the block kinds the evaluator needs."""

    path: Path
    display: str
    variables: dict[str, syntax.Block] = field(default_factory=dict)
    locals: dict[str, syntax.Attribute] = field(default_factory=dict)
    outputs: dict[str, syntax.Block] = field(default_factory=dict)
    resources: dict[tuple[str, str, str], syntax.Block] = field(default_factory=dict)  # (mode, type, name)
    modules: dict[str, syntax.Block] = field(default_factory=dict)
    providers: list[syntax.Block] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def add(self, body: syntax.Body) -> None:
        for block in body.blocks:
            if block.type == "variable" and block.labels:
                self.variables[block.labels[0]] = block
            elif block.type == "locals":
                self.locals.update(block.body.attributes)
            elif block.type == "output" and block.labels:
                self.outputs[block.labels[0]] = block
            elif block.type in ("resource", "data") and len(block.labels) == 2:
                self.resources[(block.type, block.labels[0], block.labels[1])] = block
            elif block.type == "module" and block.labels:
                self.modules[block.labels[0]] = block
            elif block.type == "provider" and block.labels:
                self.providers.append(block)


@dataclass
class Problem:
    display: str
    reason: str
    line: int | None = None
    column: int | None = None


class Sources:
    """Reading and parsing Terraform files once, wherever modules lead."""

    def __init__(
        self,
        display: Callable[[Path], str],
        remember_text: Callable[[str, str], None],
        note_read: Callable[[str], None] = lambda display: None,
    ) -> None:
        self.display = display
        self.remember_text = remember_text
        self.note_read = note_read  # files read without keeping their text (file(), templatefile())
        self.modules: dict[Path, ModuleSource] = {}
        self.problems: list[Problem] = []
        # The folders the scan covers (the paths given, and every folder of Terraform files found under
        # them), parsed or not: file() and templatefile() may read below them.
        self.scanned: list[Path] = []

    def module(self, folder: Path) -> ModuleSource | None:
        folder = folder.resolve()
        if folder in self.modules:
            return self.modules[folder]
        if not folder.is_dir():
            return None
        source = ModuleSource(folder, self.display(folder))
        self.note_read(self.display(folder))  # a file added to the folder changes the folder's stamp
        for path in sorted(folder.iterdir()):
            name = path.name.lower()
            if name.endswith((".tf", ".tf.json")) and path.is_file():
                body = self.parse(path)
                if body is not None:
                    source.add(body)
                    source.files.append(self.display(path))
        self.modules[folder] = source
        return source

    def read(self, path: Path) -> tuple[bytes, str] | None:
        """A Terraform file's bytes and text (kept for quoting), or None with a problem when it cannot be read."""
        display = self.display(path)
        self.note_read(display)
        try:
            with open(path, "rb") as stream:
                data = stream.read(limits.MAX_TERRAFORM_BYTES + 1)
        except OSError as error:
            self.problems.append(Problem(display, f"cannot be read: {error.strerror or error}"))
            return None
        if len(data) > limits.MAX_TERRAFORM_BYTES:
            self.problems.append(Problem(display, limits.too_large(limits.MAX_TERRAFORM_BYTES, "a Terraform file")))
            return None
        text_value = decode(data)
        self.remember_text(display, text_value)
        return data, text_value

    def parse(self, path: Path, parser: Callable[[bytes, str], Any] | None = None) -> Any:
        """A Terraform file's body (or what ``parser`` makes of its bytes and text), or None with a problem."""
        read = self.read(path)
        if read is None:
            return None
        data, text_value = read
        display = self.display(path)

        def parse() -> Any:
            try:
                if parser is not None:
                    return parser(data, text_value)
                if path.name.lower().endswith(".json"):
                    return syntax.json_body(parse_json(data, display).root, display)
                return syntax.parse_hcl(text_value, display)
            except DocumentError as error:
                self.problems.append(Problem(display, f"cannot be parsed: {error.reason}", error.line, error.column))
                return None

        body, failure = limits.contained(parse, "while it was parsed")
        if failure:
            self.problems.append(Problem(display, failure))
        return body

    def read_text(self, path: Path) -> str | None:
        """A file that ``file()``/``templatefile()`` name, when it lies below the current folder, a scanned
        folder or a module folder."""
        resolved = path.resolve()
        allowed = [Path.cwd().resolve(), *self.scanned, *self.modules]
        if not any(resolved == folder or folder in resolved.parents for folder in allowed) or not resolved.is_file():
            return None  # outside the sources, or a FIFO or device that could block the read
        try:
            content = decode(resolved.read_bytes())
        except OSError:
            return None
        self.note_read(self.display(resolved))
        return content


# --- instances -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """One instance of a resource, data source or module block (``count``/``for_each`` expanded)."""

    suffix: str  # as Terraform addresses it: "", "[0]", '["key"]'; "[?]" for a key the sources do not give
    bindings: dict  # count or each
    condition: Assumption
    label: str = ""  # how a decision that reads the bindings names this instance: 'aws_kms_key.k["a"]'
    # It stands for instances the sources do not number (a count or for_each they do not give): any index may name it.
    wildcard: bool = False
    # The suffix the model's resource keys use: numbered apart when instances that may exist together share it.
    identity: str = ""
    # Why it stands for any number of instances (a count or collection not given, or past _MAX_INSTANCES);
    # "" when it is one instance. A splat over it has no known length.
    countless: str = ""


def _distinct(instances: list[Instance]) -> list[Instance]:
    """The instances with the identities the model knows them by.

    Instances that share an address in different branches (a count that is 1 in one branch and not
    known in another, a for_each key in both branches of a conditional) are one resource, whose values
    depend on the branch (``_merged``): one finding per cause. Instances that may exist together (keys
    the sources do not give) are numbered apart. Either way each keeps a label of its own, so that a
    decision reading its count or each is its own.
    """
    groups: dict[str, list[Instance]] = {}
    for instance in instances:
        groups.setdefault(instance.suffix, []).append(instance)
    numbered: Counter = Counter()
    found = []
    for instance in instances:
        group = groups[instance.suffix]
        if len(group) == 1:
            found.append(replace(instance, identity=instance.suffix))
            continue
        numbered[instance.suffix] += 1
        number = f"#{numbered[instance.suffix]}"
        apart = any(not _exclusive(a.condition, b.condition) for a, b in combinations(group, 2))
        found.append(replace(instance, identity=instance.suffix + (number if apart else ""), label=instance.label + number))
    return found


def _exclusive(first: Assumption, second: Assumption) -> bool:
    """Whether no world satisfies both assumptions: they take different outcomes of some decision."""
    outcomes = dict(first)
    return any(subject in outcomes and outcomes[subject] != outcome for subject, outcome in second)


def _matching(instances: list[Instance], suffix: str) -> list[Instance]:
    """The instances a reference may name with this index suffix ("" without an index, "[?]" with an
    index the sources do not give): those with that suffix, then those standing for unnumbered ones."""
    if suffix == "[?]":
        return instances if len(instances) == 1 else []
    found = [instance for instance in instances if instance.suffix == suffix]
    if not found and suffix in ("", "[0]"):
        found = [instance for instance in instances if instance.suffix in ("", "[0]")]
    found += [instance for instance in instances if instance.wildcard and instance not in found]
    if not found and suffix == "" and len(instances) == 1:
        found = instances
    return found


def _opposite(outcome: str) -> str:
    """The other outcome of a Terraform decision: a conditional, a count ("not 0"), a collection ("not empty")."""
    return opposite(outcome) or f"not {outcome}"


def _guarded(value: Value, assumption: Assumption) -> Value:
    """A value present only under ``assumption`` (absent in the other outcomes)."""
    for subject, outcome in sorted(assumption):
        branches = ((outcome, value), (_opposite(outcome), Absent(span=value.span)))
        value = Choice(subject=subject, branches=branches, span=value.span)
    return value


def _choice_among(candidates: list[tuple[Assumption, Value]], span: Span) -> Value:
    """The value of whichever candidate's condition holds, first first: a choice over the decisions that
    tell them apart, absent where none holds."""
    if not candidates:
        return Absent(span=span)
    condition, value = candidates[0]
    if not condition:
        return value
    subject = min(name for name, _ in condition)
    outcomes = [outcome for name, outcome in condition if name == subject]
    outcomes += [o for c, _ in candidates[1:] for name, o in c if name == subject and o not in outcomes]
    if len(outcomes) == 1:
        outcomes.append(_opposite(outcomes[0]))
    branches = []
    for outcome in outcomes:
        remaining = [
            (frozenset(item for item in c if item[0] != subject), v)
            for c, v in candidates
            if all(name != subject or o == outcome for name, o in c)
        ]
        branches.append((outcome, _choice_among(remaining, span)))
    return Choice(subject=subject, branches=tuple(branches), span=span)


def _each_branch(value: Value, compute: Callable[[Value], Value]) -> Value:
    """``compute`` applied to each branch of a value's top-level choices (not to choices nested inside)."""
    if isinstance(value, Choice):
        branches = tuple((outcome, _each_branch(branch, compute)) for outcome, branch in value.branches)
        return Choice(subject=value.subject, branches=branches, span=value.span, origin=value.origin)
    return compute(value)


def _pairs(collection: Value, list_keys: str) -> list[tuple[Value, Value]] | None:
    """The (key, value) pairs that ``for_each``, ``dynamic`` and ``for`` iterate; None when the collection is
    not known. A map's keys are texts where the keys are written; a list's keys are its indexes
    (``list_keys="index"``) or, for ``for_each``'s sets, the items themselves (``"item"``)."""
    if isinstance(collection, MapValue):
        return [(text(key, collection.key_spans.get(key, collection.span)), item) for key, item in collection.entries.items()]
    if isinstance(collection, ListValue):
        if list_keys == "item":
            return [(item, item) for item in collection.items if not is_absent(item)]
        return [(Scalar(value=index, span=item.span), item) for index, item in enumerate(collection.items)]
    if is_absent(collection):
        return []
    return None


def _iterations(collection: Value, subject: str, what: str, list_keys: str) -> list[tuple[Assumption, Value, Value]]:
    """What a ``for_each`` or ``dynamic`` block iterates in every branch of its collection: (assumption, key, item).

    A collection the sources do not give is one unknown item, present when the collection is not
    empty (``subject``); items past _MAX_INSTANCES are one unknown item saying how many are left out.
    """
    found: list[tuple[Assumption, Value, Value]] = []
    for assumption, leaf in alternatives(collection, keep_absent=True):
        pairs = _pairs(leaf, list_keys)
        if pairs is None:
            unknown = Unknown(reason=f"{what}: {getattr(leaf, 'reason', 'not a collection')}", span=leaf.span)
            found.append((assumption | {(subject, "not empty")}, unknown, unknown))
            continue
        found.extend((assumption, key, item) for key, item in pairs[:_MAX_INSTANCES])
        if len(pairs) > _MAX_INSTANCES:
            reason = f"{what}: {len(pairs) - _MAX_INSTANCES} more items are not evaluated (only the first {_MAX_INSTANCES})"
            unknown = Unknown(reason=reason, span=leaf.span)
            found.append((assumption, unknown, unknown))
    return found


def _count_binding(index: Value) -> dict[str, Value]:
    return {"count": MapValue(entries={"index": index}, span=index.span)}


def _number(value: Value) -> int | None:
    """A count or index: a finite whole number, not negative. None for anything else, which Terraform refuses
    there (2.5, -1, 1e400) or the sources do not give."""
    number = _float(value)
    if number is None or not math.isfinite(number) or number < 0 or not number.is_integer():
        return None
    return int(number)


def _quoted(key: str) -> str:
    return "[" + json.dumps(key) + "]"


def _shown_key(key: Value) -> str:
    literal = literal_text(key)
    return json.dumps(literal) if isinstance(key, Text) and literal is not None else literal or "?"


def _reference_name(expression: syntax.Expression) -> str | None:
    """A name written as a bare reference: ``aws.europe`` in HCL, ``"aws.europe"`` or ``"${aws.europe}"`` in
    JSON (a ``provider`` argument, a module's ``providers`` map, a dynamic block's ``iterator``)."""
    if isinstance(expression, syntax.Traversal) and expression.root is not None:
        if all(isinstance(step, str) for step in expression.steps):
            return ".".join((expression.root, *expression.steps))
        return None
    if isinstance(expression, syntax.Literal) and isinstance(expression.value, str):
        return expression.value
    if isinstance(expression, syntax.Template):
        if len(expression.parts) == 1 and isinstance(expression.parts[0], syntax.Expression):
            return _reference_name(expression.parts[0])
        if all(isinstance(part, str) for part in expression.parts):
            return "".join(expression.parts)
    return None


class Root:
    """One root module and everything it calls: its variable values and module instances."""

    def __init__(self, loader: TerraformLoader, source: ModuleSource, variable_values: dict[str, Value]) -> None:
        self.loader = loader
        self.source = source
        self.variable_values = variable_values
        self.instances: list[ModuleInstance] = []


class ModuleInstance:
    def __init__(
        self,
        root: Root,
        source: ModuleSource,
        address: str,
        inputs: dict[str, Callable[[], Value]],
        providers: dict[str, Deployment],
        condition: Assumption,
        call_site: str = "",
        identity: str | None = None,
        instance: Instance | None = None,
        names: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.names = names  # the module names from the root to this module, without instance keys
        self.source = source
        self.address = address  # "" or "module.name[...]." prefix, as messages show it
        self.identity = address if identity is None else identity  # the same, unique: keys and decisions use it
        self.instance = instance or Instance("", {}, ALWAYS)  # of its module block
        self.inputs = inputs
        self.providers = providers
        self.condition = condition
        self.call_site = call_site
        self._values: dict[tuple, Value] = {}
        self._evaluating: set[tuple] = set()
        self._instances: dict[tuple, list[Instance]] = {}
        self._children: dict[str, list[ModuleInstance] | Unknown] = {}
        root.instances.append(self)
        self._own_providers()

    @property
    def evaluator(self) -> Evaluator:
        return Evaluator(self, {})

    def scope(self, instance: Instance) -> Evaluator:
        """The scope of one instance of a block: its ``count`` or ``each``."""
        return Evaluator(self, instance.bindings, {name: instance.label for name in instance.bindings})

    def _own_providers(self) -> None:
        for block in self.source.providers:
            name = block.labels[0]
            alias = literal_text(self.evaluator.attribute(block.body, "alias"))
            address = f"{name}.{alias}" if alias else name
            self.providers[address] = self.root.loader.deployment(self, address, block)

    def provider_for(self, body: syntax.Body, resource_type: str) -> Deployment:
        provider = body.attributes.get("provider")
        named = _reference_name(provider.expression) if provider is not None else None
        address = named or resource_type.split("_", 1)[0]
        deployment = self.providers.get(address) or self.providers.get(address.split(".")[0])
        if deployment is None:
            deployment = self.root.loader.deployment(self, address, None)
            self.providers[address] = deployment
        return deployment

    def deployment_of(self, body: syntax.Body, resource_type: str, scope: Evaluator, address: str) -> Deployment:
        """Where a resource is: its provider's deployment, in the resource's own Region when it sets one
        (the ``region`` argument of AWS provider v6)."""
        provider = self.provider_for(body, resource_type)
        if "region" not in body.attributes or not resource_type.startswith("aws_"):
            return provider
        region = scope.attribute(body, "region")
        if is_absent(region):
            return provider
        return self.root.loader.in_region(provider, literal_text(region), address)

    # -- memoised evaluation with cycle detection

    def memo(self, key: tuple, compute: Callable[[], Value], span: Span) -> Value:
        if key in self._values:
            return self._values[key]
        if key in self._evaluating:
            return Unknown(reason=f"{'.'.join(key)} refers to itself", span=span)
        self._evaluating.add(key)
        try:
            value = compute()
        finally:
            self._evaluating.discard(key)
        self._values[key] = value
        return value

    def variable(self, name: str, span: Span) -> Value:
        block = self.source.variables.get(name)

        def compute() -> Value:
            if name in self.inputs:
                return relocated(self.inputs[name](), span, f"input {name} of {self.call_site}")
            if not self.address and name in self.root.variable_values:
                return relocated(self.root.variable_values[name], span, "")
            if block is None:
                return Unknown(reason=f"var.{name} is not declared", span=span)
            default = block.body.attributes.get("default")
            where = f"{block.span.where()}"
            if default is None:
                who = f"{self.call_site} does not set it" if self.address else "it is given at plan time"
                reason = f"variable {name} ({where}) has no default and {who}"
                return Undecided(reason=reason, decision=_in_module(f"var.{name}", self), span=span)
            value = self.evaluator.eval(default.expression)
            return relocated(value, span, f"the default of variable {name} ({where})")

        value = self.memo(("var", name), compute, span)
        return relocated(value, span, "") if value.span != span else value

    def local(self, name: str, span: Span) -> Value:
        attribute = self.source.locals.get(name)
        if attribute is None:
            return Unknown(reason=f"local.{name} is not defined", span=span)
        value = self.memo(("local", name), lambda: self.evaluator.eval(attribute.expression), span)
        return relocated(value, span, f"local.{name} ({attribute.span.where()})")

    # -- resources and data sources

    def instances_of(self, mode: str, resource_type: str, name: str) -> list[Instance] | None:
        key = (mode, resource_type, name)
        block = self.source.resources.get(key)
        if block is None:
            return None
        if key not in self._instances:
            self._instances[key] = []  # a self-reference during expansion sees no instances
            address = f"{self.identity}{'data.' if mode == 'data' else ''}{resource_type}.{name}"
            self._instances[key] = self.expand(block.body, address)
        return self._instances[key]

    def expand(self, body: syntax.Body, address: str) -> list[Instance]:
        count = body.attributes.get("count")
        for_each = body.attributes.get("for_each")
        if count is not None:
            return _distinct(self._counted(self.evaluator.eval(count.expression), address))
        if for_each is not None:
            return _distinct(self._each(self.evaluator.eval(for_each.expression), address))
        return [Instance("", {}, ALWAYS)]

    def _counted(self, value: Value, address: str) -> list[Instance]:
        counts = [(assumption, _number(leaf), leaf) for assumption, leaf in alternatives(value, keep_absent=True)]
        largest = max((number for _, number, _ in counts if number is not None), default=0)
        indexed = largest > 1
        found: list[Instance] = []

        def add(suffix: str, index: Value, fewest: int, label: str, countless: str = "") -> None:
            """Instances present where the count is above ``fewest``: always, or under each such branch."""
            present = [assumption for assumption, number, _ in counts if number is not None and number > fewest]
            conditions = [ALWAYS] if len(present) == len(counts) else present
            found.extend(
                Instance(suffix, _count_binding(index), c, label, bool(countless), countless=countless) for c in conditions
            )

        for index in range(min(largest, _MAX_INSTANCES)):
            add(f"[{index}]" if indexed else "", Scalar(value=index, span=value.span), index, f"{address}[{index}]")
        if largest > _MAX_INSTANCES:
            more = largest - _MAX_INSTANCES
            reason = f"count.index of {address}: {more} more instances are not evaluated (only the first {_MAX_INSTANCES})"
            add("[?]", Unknown(reason=reason, span=value.span), _MAX_INSTANCES, f"{address}[{_MAX_INSTANCES}…]", reason)
        for assumption, number, leaf in counts:
            if number is None:
                shown = literal_text(leaf)
                refused = f"{shown} is not a whole number from 0 (Terraform refuses it)" if shown is not None else None
                why = getattr(leaf, "reason", None) or refused or "it is not a number"
                index = Unknown(reason=f"count.index of {address}, whose count is not known: {why}", span=value.span)
                condition = assumption | {(f"count of {address}", "not 0")}
                label = f"{address}[…]"
                found.append(Instance("", _count_binding(index), condition, label, wildcard=True, countless=index.reason))
        return found

    def _each(self, value: Value, address: str) -> list[Instance]:
        found: list[Instance] = []
        subject = f"for_each of {address}"
        for assumption, key, item in _iterations(value, subject, subject, list_keys="item"):
            key_text = literal_text(key)
            each = MapValue(entries={"key": key, "value": item}, span=item.span)
            countless = key.reason if isinstance(key, Unknown) else ""  # a key not given may stand for several
            if isinstance(key, Unknown) and (subject, "not empty") in assumption:
                found.append(Instance("", {"each": each}, assumption, f"{address}[…]", wildcard=True, countless=countless))
            else:
                suffix = _quoted(key_text) if key_text is not None else "[?]"
                label = f"{address}{suffix}"
                found.append(Instance(suffix, {"each": each}, assumption, label, key_text is None, countless=countless))
        return found

    # -- modules

    def children(self, name: str) -> list[ModuleInstance] | Unknown:
        if name in self._children:
            return self._children[name]
        block = self.source.modules[name]
        self._children[name] = Unknown(reason=f"module.{name} refers to itself", span=block.span)
        self._children[name] = self.root.loader.call(self, name, block)
        return self._children[name]


# --- evaluation ----------------------------------------------------------------------------------------


class Evaluator:
    """Expressions in one scope: a module instance plus names bound by count, for_each, for and dynamic.

    ``module`` is None for a variable definitions file, which holds literal values only.
    """

    def __init__(self, module: ModuleInstance | None, bindings: dict[str, Value], labels: dict[str, str] | None = None) -> None:
        self.module = module
        self.bindings = bindings
        self.labels = labels or {}  # bound name -> which instance or item it is, for naming decisions

    def bound(self, names: dict[str, Value], label: str) -> Evaluator:
        labels = {**self.labels, **dict.fromkeys(names, label)}
        return Evaluator(self.module, {**self.bindings, **names}, labels)

    def attribute(self, body: syntax.Body, name: str) -> Value | None:
        attribute = body.attributes.get(name)
        return self.eval(attribute.expression) if attribute is not None else None

    def eval(self, expression: syntax.Expression) -> Value:
        handler = _EVALUATORS.get(type(expression))
        if handler is None:
            return Unknown(reason=f"{type(expression).__name__} is not evaluated", span=expression.span)
        return handler(self, expression)

    def subject(self, text: str, reads: syntax.Expression) -> str:
        """How findings name a decision on a computed value (one read as it is, ``Undecided``, is named by its
        origin): ``text``, in its module instance, with the instances or items that ``reads`` reads through
        its bindings, so that the same words in two scopes are two decisions."""
        subject = text
        if self.module is not None and self.module.identity:
            subject += f" in {self.module.identity.rstrip('.')}"
        bound = sorted({self.labels[name] for name in syntax.names_in(reads) if name in self.labels})
        return subject + (f" ({', '.join(bound)})" if bound else "")

    # -- leaves

    def literal(self, expression: syntax.Literal) -> Value:
        if expression.value is None:
            return Absent(span=expression.span)
        if isinstance(expression.value, str):
            return text(expression.value, expression.span)
        return Scalar(value=expression.value, span=expression.span)

    def template(self, expression: syntax.Template) -> Value:
        parts = expression.parts
        if len(parts) == 1 and isinstance(parts[0], syntax.Expression):
            return self.eval(parts[0])  # "${x}" is x itself
        pieces: list = [part if isinstance(part, str) else self.eval(part) for part in parts]
        return concatenate(pieces, expression.span)

    def unsupported(self, expression: syntax.Unsupported) -> Value:
        return Unknown(reason=expression.reason, span=expression.span)

    def tuple_(self, expression: syntax.TupleExpression) -> Value:
        return ListValue(items=tuple(self.eval(item) for item in expression.items), span=expression.span)

    def object_(self, expression: syntax.ObjectExpression) -> Value:
        entries: dict[str, Value] = {}
        key_spans: dict[str, Span] = {}
        for key_expression, value_expression in expression.items:
            key = literal_text(self.eval(key_expression))
            if key is None:
                return Unknown(reason="an object with a computed key", span=expression.span)
            entries[key] = self.eval(value_expression)
            key_spans[key] = key_expression.span
        return MapValue(entries=entries, key_spans=key_spans, span=expression.span)

    # -- references

    def traversal(self, expression: syntax.Traversal) -> Value:
        steps = list(expression.steps)
        span = expression.span
        if expression.root is None:
            return self.steps(self.eval(expression.base), steps, span)
        root = expression.root
        if root in self.bindings:
            # An element of count/for_each/for/dynamic is reported where it is used.
            return relocated(self.steps(self.bindings[root], steps, span), span, "")
        module = self.module
        if module is None:  # a variable definitions file: read_tfvars reports references before evaluating
            return Unknown(reason=f"{expression.text} cannot be used here", span=span)
        if root in ("var", "local") and steps and isinstance(steps[0], str):
            value = module.variable(steps[0], span) if root == "var" else module.local(steps[0], span)
            return self.steps(value, steps[1:], span)
        if root == "module" and steps and isinstance(steps[0], str):
            return self.module_output(steps[0], steps[1:], expression)
        if root == "data" and len(steps) >= 2 and all(isinstance(s, str) for s in steps[:2]):
            return self.resource("data", steps[0], steps[1], steps[2:], expression)
        if root == "path":
            # Absolute, so that file("${path.module}/policy.json") finds the file wherever the scan runs.
            folder = module.source.path if steps and steps[0] == "module" else module.root.source.path
            return text(str(folder), span)
        if root in ("terraform", "self", "count", "each"):
            return Text(parts=(Opaque(f"{expression.text} is only known at plan time", expression.text),), span=span)
        if steps and isinstance(steps[0], str):
            return self.resource("resource", root, steps[0], steps[1:], expression)
        return Unknown(reason=f"{expression.text} is not defined", span=span)

    def steps(self, value: Value, steps: list, span: Span) -> Value:
        for step in steps:
            key = step if isinstance(step, str) else self.eval(step)
            value = through_choices(
                [value, key] if not isinstance(key, str) else [value], lambda vs, k=key: _step(vs, k, span), span
            )
        return value

    def _index(self, steps: list) -> tuple[str, list]:
        """The index suffix a reference starts with ("" when none), and the steps after it."""
        if steps and not isinstance(steps[0], str):
            return _index_suffix(self.eval(steps[0])), steps[1:]
        return "", steps

    def module_output(self, name: str, steps: list, expression: syntax.Traversal) -> Value:
        module = self.module
        span = expression.span
        if name not in module.source.modules:
            return Unknown(reason=f"module.{name} is not declared", span=span)
        children = module.children(name)
        if isinstance(children, Unknown):
            return Unknown(reason=children.reason, span=span, origin=children.origin)
        suffix, steps = self._index(steps)
        found = _matching([child.instance for child in children], suffix)
        if not found:
            which = "an instance the sources do not give" if suffix == "[?]" else suffix or "(several instances)"
            return Unknown(reason=f"{expression.text}: module.{name} has no instance {which}", span=span)
        if not steps or not isinstance(steps[0], str):
            return Unknown(reason=f"{expression.text} names the whole module", span=span)
        by_instance = {id(child.instance): child for child in children}
        outputs = [(instance.condition, self._output(by_instance[id(instance)], name, steps[0], span)) for instance in found]
        value = outputs[0][1] if len(outputs) == 1 else _choice_among(outputs, span)
        return self.steps(value, steps[1:], span)

    def _output(self, child: ModuleInstance, name: str, output_name: str, span: Span) -> Value:
        output = child.source.outputs.get(output_name)
        if output is None:
            return Unknown(reason=f"module.{name} has no output {output_name}", span=span)
        value_attribute = output.body.attributes.get("value")
        if value_attribute is None:
            return Unknown(reason=f"output {output_name} of module.{name} has no value", span=span)
        value = child.memo(("output", output_name), lambda: child.evaluator.eval(value_attribute.expression), span)
        return relocated(value, span, f"output {output_name} of module.{name} ({output.span.where()})")

    def resource(self, mode: str, resource_type: str, name: str, steps: list, expression: syntax.Traversal) -> Value:
        span = expression.span
        instances = self.module.instances_of(mode, resource_type, name)
        if instances is None:
            prefix = "data." if mode == "data" else ""
            return Unknown(reason=f"{expression.text}: {prefix}{resource_type}.{name} is not declared", span=span)
        suffix, steps = self._index(steps)
        found = _matching(instances, suffix)
        if not found:
            which = "whose index the sources give" if suffix == "[?]" else suffix or "without an index"
            return Unknown(reason=f"{expression.text}: no instance {which}", span=span)
        values = [
            (instance.condition, self.instance_value(mode, resource_type, name, instance, steps, expression))
            for instance in found
        ]
        return values[0][1] if len(values) == 1 else _choice_among(values, span)

    def instance_value(self, mode: str, resource_type: str, name: str, instance: Instance, steps: list, expression) -> Value:
        """What ``steps`` (an attribute, then keys or indexes) read from one instance of a resource or data source."""
        span = expression.span
        if not steps or not isinstance(steps[0], str):
            return Unknown(reason=f"{expression.text} names a whole resource", span=span)
        prefix = "data." if mode == "data" else ""
        key = self.module.root.loader.resource_key(self.module, f"{prefix}{resource_type}.{name}{instance.identity}")
        block = self.module.source.resources[(mode, resource_type, name)]
        read = self.data_attribute if mode == "data" else self.resource_attribute
        return self.steps(read(resource_type, steps[0], key, block, instance, expression), steps[1:], span)

    def resource_attribute(self, resource_type, attribute, key, block, instance, expression) -> Value:
        neutral = neutral_attribute(resource_type, attribute)
        if neutral is not None:
            return Text(parts=(Attribute(key, neutral, expression.text),), span=expression.span)
        configured = block.body.attributes.get(attribute)
        if configured is not None:
            return relocated(self.module.scope(instance).eval(configured.expression), expression.span, f"{expression.text}")
        return Text(parts=(Attribute(key, attribute, expression.text),), span=expression.span)

    def data_attribute(self, resource_type, attribute, key, block, instance, expression) -> Value:
        span = expression.span
        scope = self.module.scope(instance)
        provider = self.module.provider_for(block.body, resource_type)
        label = expression.text
        if resource_type == "aws_caller_identity" and attribute == "account_id":
            return Text(parts=(provider.account or AccountOf(provider.key, label),), span=span)
        if resource_type == "aws_region" and attribute in ("name", "id", "region"):
            for argument in ("region", "name"):  # the Region it describes (v6 ``region``, v5 ``name``), else the provider's
                configured = scope.attribute(block.body, argument)
                if configured is not None and not is_absent(configured):
                    return relocated(configured, span, label)
            return Text(parts=(provider.region or RegionOf(provider.key, label),), span=span)
        if resource_type == "aws_partition" and attribute == "partition":
            return Text(parts=(provider.partition or PartitionOf(provider.key, label),), span=span)
        neutral = neutral_attribute(resource_type, attribute, "data")
        if neutral is not None:
            return Text(parts=(Attribute(key, neutral, label),), span=span)
        if resource_type == "aws_iam_policy_document" and attribute in ("json", "minified_json"):
            properties = body_value(scope, block.body, block.span)
            return with_origin(policy_document(properties, block.span), span, label)
        configured = block.body.attributes.get(attribute)
        if configured is not None:
            return scope.eval(configured.expression)
        decision = _in_module(f"data.{resource_type}.{block.labels[1]}{instance.identity}.{attribute}", self.module)
        return Undecided(reason=f"{label} is read from the live account at plan time", decision=decision, span=span)

    # -- operators

    def call(self, expression: syntax.Call) -> Value:
        from .terraform_functions import FUNCTIONS, TRANSPARENT

        name = expression.name.split("::")[-1]
        function = FUNCTIONS.get(name)
        if function is None:
            return Unknown(reason=f"{expression.name}() is not evaluated", span=expression.span)
        arguments = [self.eval(argument) for argument in expression.arguments]

        def apply(values: list[Value]) -> Value:
            if expression.expand_last and values and isinstance(values[-1], ListValue):
                values = values[:-1] + list(values[-1].items)
            return _undecided_no_more(function(self, values, expression))

        # Functions see no choices: they run in every branch of the conditions their arguments hold.
        return apply(arguments) if name in TRANSPARENT else through_choices(arguments, apply, expression.span)

    def conditional(self, expression: syntax.Conditional) -> Value:
        test = self.eval(expression.test)

        def decide(values: list[Value]) -> Value:
            flag = as_bool(values[0])
            if flag is True:
                return self.eval(expression.yes)
            if flag is False:
                return self.eval(expression.no)
            if isinstance(values[0], Undecided):
                subject = values[0].decision  # the same value, wherever it is tested, is one decision
            else:
                subject = self.subject(expression.text or f"the condition at {expression.span.where()}", expression.test)
            branches = (("true", self.eval(expression.yes)), ("false", self.eval(expression.no)))
            return Choice(subject=subject, branches=branches, span=expression.span)

        return through_choices([test], decide, expression.span)

    def operation(self, expression: syntax.Operation) -> Value:
        operands = [self.eval(operand) for operand in expression.operands]
        return through_choices(operands, lambda values: _operate(expression.operator, values, expression.span), expression.span)

    def for_(self, expression: syntax.ForExpression) -> Value:
        return _each_branch(self.eval(expression.collection), lambda collection: self._for_over(collection, expression))

    def _for_over(self, collection: Value, expression: syntax.ForExpression) -> Value:
        described = expression.text or "a for expression"
        pairs = None if is_absent(collection) else _pairs(collection, list_keys="index")
        if pairs is None:
            reason = getattr(collection, "reason", "a collection that is not known")
            return Unknown(reason=f"{described} iterates {reason}", span=expression.span)
        results: list[tuple[Value | None, Value]] = []
        for key, item in pairs:
            names = {expression.value_name: item}
            if expression.key_name:
                names[expression.key_name] = key
            scope = self.bound(names, f"item {_shown_key(key)} of the for expression at line {expression.span.line}")
            if expression.condition is not None:
                keep = as_bool(scope.eval(expression.condition))
                if keep is None:
                    return Unknown(reason=f"the filter of {described} cannot be decided", span=expression.span)
                if not keep:
                    continue
            results.append((scope.eval(expression.key) if expression.key else None, scope.eval(expression.value)))
        if expression.key is None:
            return ListValue(items=tuple(value for _, value in results), span=expression.span)
        entries: dict[str, Value] = {}
        for key, value in results:
            name = literal_text(key)
            if name is None:
                return Unknown(reason="a for expression with computed keys", span=expression.span)
            if expression.grouped:
                previous = entries.get(name)
                items = previous.items if isinstance(previous, ListValue) else ()
                entries[name] = ListValue(items=(*items, value), span=expression.span)
            else:
                entries[name] = value
        return MapValue(entries=entries, span=expression.span)

    def splat(self, expression: syntax.Splat) -> Value:
        source = expression.source
        if isinstance(source, syntax.Traversal) and source.root and len(source.steps) == 1 and "_" in source.root:
            name = source.steps[0]
            instances = self.module.instances_of("resource", source.root, name) if isinstance(name, str) else None
            if instances is not None:
                steps = list(expression.steps)
                items = [
                    _guarded(self.instance_value("resource", source.root, name, instance, steps, expression), instance.condition)
                    for instance in instances
                    if not instance.countless
                ]
                listed: Value = ListValue(items=tuple(items), span=expression.span)
                # Where an instance stands for instances the sources do not number, the list's length is not known.
                unnumbered = [
                    (instance.condition, Unknown(reason=f"{expression.text}: {instance.countless}", span=expression.span))
                    for instance in instances
                    if instance.countless
                ]
                return _choice_among([*unnumbered, (ALWAYS, listed)], expression.span) if unnumbered else listed
        value = self.eval(source)
        if isinstance(value, Unknown):
            return _undecided_no_more(value)
        items = value.items if isinstance(value, ListValue) else (() if is_absent(value) else (value,))
        return ListValue(
            items=tuple(self.steps(item, list(expression.steps), expression.span) for item in items), span=expression.span
        )


def _in_module(name: str, module: ModuleInstance) -> str:
    """A decision's name for a value of a module instance: ``var.x in module.a`` (``var.x`` in the root)."""
    return f"{name} in {module.identity.rstrip('.')}" if module.identity else name


def _undecided_no_more(value: Value) -> Value:
    """A value computed from an undecided one is not that value: its decisions are named by the expression."""
    if isinstance(value, Undecided):
        return Unknown(reason=value.reason, span=value.span, origin=value.origin)
    return value


def _key_suffix(key: Value | str) -> str | None:
    """How a decision's name reads a key or attribute: ``.name`` (as ``["name"]`` is the same), ``[0]``, ``["a b"]``;
    None when the key is not known."""
    literal = key if isinstance(key, str) else literal_text(key)
    if literal is None:
        return None
    if isinstance(key, Scalar) or literal.isdigit():
        return _index_suffix(key) if isinstance(key, Scalar) else f"[{literal}]"
    return f".{literal}" if _IDENTIFIER.fullmatch(literal) else _quoted(literal)


def _index_suffix(index: Value) -> str:
    literal = literal_text(index)
    if literal is None:
        return "[?]"
    if isinstance(index, Scalar) and isinstance(index.value, (int, float)):
        number = _number(index)
        return f"[{number if number is not None else literal}]"  # [2.5] and [-1] name no instance
    return f"[{literal}]" if literal.isdigit() else _quoted(literal)


def _step(values: list[Value], key, span: Span) -> Value:
    value = values[0]
    if not isinstance(key, str):
        key = values[1]
    if isinstance(value, Undecided):  # a key or attribute of it is a value of its own
        index = _key_suffix(key)
        if index is None:
            return Unknown(reason=value.reason, span=span, origin=value.origin)
        return replace(value, decision=value.decision + index, span=span)
    if isinstance(value, Unknown):
        return value
    if isinstance(key, Value):
        literal = literal_text(key)
        if literal is None:
            return Unknown(reason="an index that is not known", span=span)
        if isinstance(value, ListValue):
            number = _number(key)
            if number is None or not 0 <= number < len(value.items):
                return Missing(reason=f"index {literal} is outside the list", span=span)
            return value.items[number]
        key = literal
    if isinstance(value, MapValue):
        found = value.entries.get(key)
        return found if found is not None else Missing(reason=f"no key {key!r}", span=span)
    if isinstance(value, Text) and value.symbol is not None:
        return Text(parts=(Opaque(f"{value.shown()}.{key}", f"{value.shown()}.{key}"),), span=span)
    return Missing(reason=f"no attribute {key!r}", span=span)


def _operate(operator: str, values: list[Value], span: Span) -> Value:
    if any(isinstance(value, Unknown) for value in values):
        unknown = next(value for value in values if isinstance(value, Unknown))
        return Unknown(reason=unknown.reason, span=span, origin=unknown.origin)
    if operator == "!":
        flag = as_bool(values[0])
        return Scalar(value=not flag, span=span) if flag is not None else Unknown(reason="negation of an unknown", span=span)
    if operator == "neg":
        number = _float(values[0])
        if number is None:
            return Unknown(reason="an unknown number", span=span)
        return Scalar(value=int(-number) if number.is_integer() else -number, span=span)
    left, right = values
    if operator in ("&&", "||"):
        a, b = as_bool(left), as_bool(right)
        if operator == "&&":
            result = False if False in (a, b) else (None if None in (a, b) else True)
        else:
            result = True if True in (a, b) else (None if None in (a, b) else False)
        return Scalar(value=result, span=span) if result is not None else Unknown(reason="an undecided condition", span=span)
    if operator in ("==", "!="):
        a, b = _comparable(left), _comparable(right)
        if a is None or b is None:
            return Unknown(reason="a comparison with a value that is not known", span=span)
        return Scalar(value=(a == b) == (operator == "=="), span=span)
    a, b = _float(left), _float(right)
    if a is None or b is None:
        return Unknown(reason="arithmetic on values that are not known", span=span)
    if operator in ("/", "%") and b == 0:
        return Unknown(reason="a division by zero (Terraform refuses it)", span=span)
    results = {
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
        "/": lambda: a / b, "%": lambda: a % b,
        "<": lambda: a < b, ">": lambda: a > b, "<=": lambda: a <= b, ">=": lambda: a >= b,
    }  # fmt: skip
    result = results[operator]()
    if isinstance(result, float) and result.is_integer() and operator not in ("<", ">", "<=", ">="):
        result = int(result)
    return Scalar(value=result, span=span)


def _float(value: Value) -> float | None:
    literal = literal_text(value)
    try:
        return float(literal) if literal is not None else None
    except ValueError:
        return None


def _comparable(value: Value):
    if is_absent(value):
        return ("null",)
    if isinstance(value, ListValue):
        items = [_comparable(item) for item in value.items]
        return None if None in items else ("list", tuple(items))
    if isinstance(value, MapValue):
        entries = {k: _comparable(v) for k, v in value.entries.items()}
        return None if None in entries.values() else ("map", tuple(sorted(entries.items())))
    if isinstance(value, Scalar) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
        return ("number", float(value.value))
    literal = literal_text(value)
    return None if literal is None else ("text", literal)


_EVALUATORS: dict[type, Callable[[Evaluator, syntax.Expression], Value]] = {
    syntax.Literal: Evaluator.literal,
    syntax.Template: Evaluator.template,
    syntax.Traversal: Evaluator.traversal,
    syntax.Call: Evaluator.call,
    syntax.Conditional: Evaluator.conditional,
    syntax.Operation: Evaluator.operation,
    syntax.TupleExpression: Evaluator.tuple_,
    syntax.ObjectExpression: Evaluator.object_,
    syntax.ForExpression: Evaluator.for_,
    syntax.Splat: Evaluator.splat,
    syntax.Unsupported: Evaluator.unsupported,
}

# What references to computed attributes give, in neutral attribute names.
_COMPUTED_ATTRIBUTES: dict[str, dict[str, str]] = {
    "aws_kms_key": {"arn": ARN, "key_id": KEY_ID, "id": KEY_ID},
    "aws_kms_replica_key": {"arn": ARN, "key_id": KEY_ID, "id": KEY_ID},
    "aws_kms_external_key": {"arn": ARN, "id": KEY_ID},
    "aws_kms_alias": {"arn": ARN, "name": ALIAS_NAME, "id": ALIAS_NAME, "target_key_arn": "target_key_arn"},
    "aws_iam_role": {"arn": ARN, "name": NAME, "id": NAME, "unique_id": "unique_id"},
    "aws_iam_policy": {"arn": ARN, "id": ARN, "name": NAME},
}
_DATA_ATTRIBUTES: dict[str, dict[str, str]] = {
    "aws_kms_key": {"arn": ARN, "id": KEY_ID, "key_id": KEY_ID},
    "aws_kms_alias": {"arn": ARN, "target_key_arn": ARN, "target_key_id": KEY_ID, "name": ALIAS_NAME, "id": ALIAS_NAME},
    "aws_ami": {"id": "id", "image_id": "id", "arn": ARN},
}


def neutral_attribute(resource_type: str, attribute: str, mode: str = "resource") -> str | None:
    """The neutral name (``values.ARN``, ``KEY_ID``, ...) of a computed attribute a reference reads, or None
    when the linter does not know it (HCL and plan references alike)."""
    table = _DATA_ATTRIBUTES if mode == "data" else _COMPUTED_ATTRIBUTES
    neutral = table.get(resource_type, {}).get(attribute)
    if neutral is None and mode == "resource" and resource_type.startswith("aws_imagebuilder_") and attribute in ("arn", "id"):
        return ARN  # every Image Builder resource's ID is its ARN
    return neutral


# --- blocks as values, and the neutral model -----------------------------------------------------------


def body_value(evaluator: Evaluator, body: syntax.Body, span: Span) -> MapValue:
    """A block's arguments and nested blocks (each nested block type a list), dynamic blocks expanded."""
    entries: dict[str, Value] = {}
    key_spans: dict[str, Span] = {}
    for name, attribute in body.attributes.items():
        if name not in _META_ARGUMENTS:
            entries[name] = evaluator.eval(attribute.expression)
            key_spans[name] = attribute.span
    grouped: dict[str, list[Value]] = {}
    for block in body.blocks:
        if block.type == "dynamic" and block.labels:
            grouped.setdefault(block.labels[0], []).extend(_dynamic_items(evaluator, block))
        elif block.type not in _SKIPPED_BLOCKS:
            grouped.setdefault(block.type, []).append(body_value(evaluator, block.body, block.span))
            key_spans.setdefault(block.type, block.span)
    for block_type, items in grouped.items():
        if items:
            entries[block_type] = ListValue(items=tuple(items), span=items[0].span)
    return MapValue(entries=entries, key_spans=key_spans, span=span)


def _dynamic_items(evaluator: Evaluator, block: syntax.Block) -> list[Value]:
    label = block.labels[0]
    for_each = block.body.attributes.get("for_each")
    iterator_attribute = block.body.attributes.get("iterator")
    iterator = (_reference_name(iterator_attribute.expression) if iterator_attribute is not None else None) or label
    content = next((inner for inner in block.body.blocks if inner.type == "content"), None)
    if for_each is None or content is None:
        return []
    collection = evaluator.eval(for_each.expression)
    subject = evaluator.subject(f"dynamic {label} over {for_each.expression.span.where()}", for_each.expression)
    items: list[Value] = []
    for assumption, key, item in _iterations(collection, subject, f"dynamic {label}", list_keys="index"):
        name = f"item {_shown_key(key)} of dynamic {label} at line {block.span.line}"
        scope = evaluator.bound({iterator: MapValue(entries={"key": key, "value": item}, span=block.span)}, name)
        value = body_value(scope, content.body, block.span)
        items.append(_guarded(value, assumption) if assumption else value)
    return items


def policy_document(properties: MapValue, span: Span) -> Value:
    """A ``data "aws_iam_policy_document"`` as the policy JSON it renders, statements at their blocks.

    ``source_policy_documents`` come first; the document's own statements replace those with the
    same ``sid``; ``override_policy_documents`` replace or add last, as Terraform merges them.
    """
    from .iam import document_value

    def statements_of(documents: Value | None) -> list[Value] | Unknown:
        found: list[Value] = []
        for _, document in members(documents):
            if isinstance(document, Text):
                document = document_value(document)
            if isinstance(document, Unknown):
                return document
            listed = field_of(document, "Statement")
            found.extend(item for _, item in members(listed))
        return found

    merged: list[Value] = []
    for part in (
        statements_of(field_of(properties, "source_policy_documents")),
        [_statement_value(item) for _, item in members(field_of(properties, "statement"))],
        statements_of(field_of(properties, "override_policy_documents")),
    ):
        if isinstance(part, Unknown):
            return Unknown(reason=f"a merged policy document is not known ({part.reason})", span=span)
        for statement in part:
            sid = literal_text(field_of(statement, "Sid"))
            position = next((i for i, old in enumerate(merged) if sid and literal_text(field_of(old, "Sid")) == sid), None)
            if position is None:
                merged.append(statement)
            else:
                merged[position] = statement
    version = text("2012-10-17", span)
    return MapValue(entries={"Version": version, "Statement": ListValue(items=tuple(merged), span=span)}, span=span)


_STATEMENT_FIELDS = {"sid": "Sid", "effect": "Effect", "actions": "Action", "not_actions": "NotAction"}
_STATEMENT_FIELDS |= {"resources": "Resource", "not_resources": "NotResource"}


def _statement_value(block: Value) -> Value:
    """One ``statement`` block in policy JSON form (``principals`` blocks become the Principal map)."""
    if not isinstance(block, MapValue):
        return block
    entries: dict[str, Value] = {"Effect": field_of(block, "effect") or text("Allow", block.span)}
    for name, json_name in _STATEMENT_FIELDS.items():
        value = field_of(block, name)
        if value is not None and not is_absent(value):
            entries[json_name] = value
    for name, json_name in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        principals: dict[str, list[Value]] = {}
        unknown_kind: Value | None = None
        for _, principal in members(field_of(block, name)):
            kind_value = field_of(principal, "type")
            kind = literal_text(kind_value)
            if kind is None:
                unknown_kind = kind_value or principal
                continue
            principals.setdefault(kind, []).extend(item for _, item in members(field_of(principal, "identifiers")))
        if unknown_kind is not None:  # which identifiers are accounts, services or users is not known
            reason = f"the type of a {name} block is not known ({getattr(unknown_kind, 'reason', 'it is computed')})"
            entries[json_name] = Unknown(reason=reason, span=unknown_kind.span)
        elif principals:
            entries[json_name] = text("*", block.span) if set(principals) == {"*"} else _principal_map(principals, block)
    conditions: dict[str, dict[str, Value]] = {}
    undecided: dict[str, Value] = {}  # tests of a key the sources do not give: policy evaluation cannot decide them
    for _, condition in members(field_of(block, "condition")):
        test = literal_text(field_of(condition, "test"))
        if test is None:  # what the condition tests is not known: neither is the statement
            return Unknown(reason="the test of a condition block is not known", span=condition.span)
        variable = literal_text(field_of(condition, "variable"))
        if variable is None:
            undecided[test] = Unknown(reason=f"the variable of a {test} condition is not known", span=condition.span)
            continue
        conditions.setdefault(test, {})[variable] = field_of(condition, "values") or ListValue(items=(), span=block.span)
    tests: dict[str, Value] = {test: MapValue(entries=keys, span=block.span) for test, keys in conditions.items()}
    if tests or undecided:
        entries["Condition"] = MapValue(entries={**tests, **undecided}, span=block.span)
    return MapValue(entries=entries, span=block.span)


def _principal_map(principals: dict[str, list[Value]], block: MapValue) -> MapValue:
    return MapValue(
        entries={kind: ListValue(items=tuple(items), span=block.span) for kind, items in principals.items()}, span=block.span
    )


def _single(value: Value | None) -> Value | None:
    """A nested block that appears once (``ebs``, ``ami_distribution_configuration``)."""
    if isinstance(value, ListValue):
        return value.items[0] if value.items else None
    if isinstance(value, Choice):
        branches = tuple((outcome, _single(branch) or Absent(span=branch.span)) for outcome, branch in value.branches)
        return Choice(subject=value.subject, branches=branches, span=value.span)
    return value


def _image_recipe(header: dict, p: Value) -> Resource:
    volumes = []
    for assumption, item in members(field_of(p, "block_device_mapping")):
        ebs = _single(field_of(item, "ebs"))
        if ebs is None:
            continue
        volumes.append(
            Volume(
                span=item.span,
                device=field_of(item, "device_name"),
                encrypted=field_of(ebs, "encrypted"),
                kms_key_id=field_of(ebs, "kms_key_id"),
                condition=assumption,
            )
        )
    return ImageRecipe(**header, recipe_name=field_of(p, "name"), parent_image=field_of(p, "parent_image"), volumes=volumes)


def _distribution_configuration(header: dict, p: Value) -> Resource:
    entries = []
    for assumption, item in members(field_of(p, "distribution")):
        ami = _single(field_of(item, "ami_distribution_configuration"))
        launch = _single(field_of(ami, "launch_permission"))
        template_accounts = [
            account
            for _, template in members(field_of(item, "launch_template_configuration"))
            if (account := field_of(template, "account_id")) is not None
        ]
        entries.append(
            DistributionEntry(
                span=item.span,
                region=field_of(item, "region"),
                kms_key_id=field_of(ami, "kms_key_id"),
                target_account_ids=field_of(ami, "target_account_ids"),
                launch_permission=LaunchPermission(
                    user_ids=field_of(launch, "user_ids"),
                    user_groups=field_of(launch, "user_groups"),
                    organization_arns=field_of(launch, "organization_arns"),
                    organizational_unit_arns=field_of(launch, "organizational_unit_arns"),
                ),
                launch_template_accounts=template_accounts,
                condition=assumption,
            )
        )
    return DistributionConfiguration(**header, configuration_name=field_of(p, "name"), entries=entries)


_BUILDERS: dict[tuple[str, str], Callable[[dict, Value], Resource]] = {
    ("resource", "aws_imagebuilder_image_recipe"): _image_recipe,
    ("resource", "aws_imagebuilder_container_recipe"): lambda h, p: ContainerRecipe(**h, recipe_name=field_of(p, "name")),
    ("resource", "aws_imagebuilder_distribution_configuration"): _distribution_configuration,
    ("resource", "aws_imagebuilder_image_pipeline"): lambda h, p: ImageBuild(
        **h, recipe=field_of(p, "image_recipe_arn") or field_of(p, "container_recipe_arn"),
        distribution=field_of(p, "distribution_configuration_arn"),
    ),
    ("resource", "aws_imagebuilder_image"): lambda h, p: ImageBuild(
        **h, recipe=field_of(p, "image_recipe_arn") or field_of(p, "container_recipe_arn"),
        distribution=field_of(p, "distribution_configuration_arn"),
    ),
    ("resource", "aws_kms_key"): lambda h, p: KmsKey(
        **h, key_spec=field_of(p, "customer_master_key_spec") or field_of(p, "key_spec"),
        key_usage=field_of(p, "key_usage"), policy=field_of(p, "policy"),
    ),
    ("resource", "aws_kms_replica_key"): lambda h, p: KmsKey(
        **h, policy=field_of(p, "policy"), replica_of=field_of(p, "primary_key_arn"),
    ),
    ("resource", "aws_kms_alias"): lambda h, p: KmsAlias(
        **h, alias_name=field_of(p, "name"), target_key=field_of(p, "target_key_id"),
    ),
    ("resource", "aws_ebs_encryption_by_default"): lambda h, p: EbsEncryptionByDefault(**h, enabled=field_of(p, "enabled")),
    ("resource", "aws_ebs_default_kms_key"): lambda h, p: EbsDefaultKey(**h, default_key=field_of(p, "key_arn")),
    ("resource", "aws_kms_grant"): lambda h, p: KmsGrant(
        **h, key_reference=field_of(p, "key_id"), grantee=field_of(p, "grantee_principal"), operations=field_of(p, "operations"),
    ),
    ("resource", "aws_iam_role"): lambda h, p: Role(
        **h, role_name=field_of(p, "name"), name_prefix=field_of(p, "name_prefix"), path=field_of(p, "path"),
        trust_policy=field_of(p, "assume_role_policy"), managed_policy_arns=field_of(p, "managed_policy_arns"),
        inline_policies=[d for _, item in members(field_of(p, "inline_policy")) if (d := field_of(item, "policy")) is not None],
    ),
    ("resource", "aws_iam_role_policy"): lambda h, p: RolePolicy(**h, roles=field_of(p, "role"), document=field_of(p, "policy")),
    ("resource", "aws_iam_role_policy_attachment"): lambda h, p: RolePolicy(
        **h, roles=field_of(p, "role"), policy_arns=field_of(p, "policy_arn"),
    ),
    ("resource", "aws_iam_policy_attachment"): lambda h, p: RolePolicy(
        **h, roles=field_of(p, "roles"), policy_arns=field_of(p, "policy_arn"),
    ),
    ("resource", "aws_iam_role_policy_attachments_exclusive"): lambda h, p: RolePolicy(
        **h, roles=field_of(p, "role_name"), policy_arns=field_of(p, "policy_arns"),
    ),
    ("resource", "aws_iam_policy"): lambda h, p: ManagedPolicy(**h, document=field_of(p, "policy")),
    ("data", "aws_kms_key"): lambda h, p: KeyLookup(**h, lookup=field_of(p, "key_id")),
    ("data", "aws_kms_alias"): lambda h, p: KeyLookup(**h, lookup=field_of(p, "name")),
    ("data", "aws_ami"): lambda h, p: ImageLookup(**h, owners=field_of(p, "owners")),
}  # fmt: skip

# Terraform-only linking: a separate resource that replaces a key's policy.
_KEY_POLICY_TYPE = ("resource", "aws_kms_key_policy")


# --- loading a scan's Terraform ------------------------------------------------------------------------


def provider_settings(settings: Value | None) -> tuple[str | None, str | None]:
    """A provider configuration's account and Region, where its settings give them literally: the account of
    ``assume_role { role_arn }``, else the only entry of ``allowed_account_ids``; its ``region``.

    ``settings`` is the provider block as a value (HCL and ``.tf.json`` alike), or a plan's constant values.
    """
    account = None
    assumed = field_of(settings, "assume_role")  # a list of blocks (JSON may give the one block as an object)
    for assume in assumed.items if isinstance(assumed, ListValue) else (assumed,) if isinstance(assumed, MapValue) else ():
        match = _ROLE_ARN_ACCOUNT.match(literal_text(field_of(assume, "role_arn")) or "")
        account = match.group(1) if match else account
    allowed = field_of(settings, "allowed_account_ids")
    if account is None and isinstance(allowed, ListValue) and len(allowed.items) == 1:
        account = literal_text(allowed.items[0])
    return account, literal_text(field_of(settings, "region"))


@dataclass(eq=False)
class _InRegion(Deployment):
    """A provider configuration's account in a Region of the resource's own choosing (the ``region`` argument of
    AWS provider v6). Its account is the provider's: the same symbol stands for it when the ID is not given."""

    provider: Deployment = field(kw_only=True)

    def account_reference(self) -> str | AccountOf:
        return self.account or self.provider.account_reference()


def in_region(provider: Deployment, region: str | None, address: str, known: dict[str, Deployment]) -> Deployment:
    """``provider``'s deployment for a resource that sets its own Region (None: one the sources do not give)."""
    if region is not None and region == provider.region:
        return provider
    key = f"{provider.key}@{region}" if region is not None else f"{provider.key}@{address}"
    if key not in known:
        shown = region or f"the Region {address} sets"
        known[key] = _InRegion(
            key=key, name=f"{provider.name}, in {shown}", account=provider.account, region=region,
            partition=provider.partition, account_label=provider.account_label, provider=provider,
        )  # fmt: skip
    return known[key]


class TerraformLoader:
    def __init__(
        self,
        sources: Sources,
        var_files: list[tuple[str, dict[str, Value]]],
        account_for: Callable[[Path], object | None] = lambda path: None,
    ) -> None:
        self.sources = sources
        self.var_files = var_files
        self.account_for = account_for  # the configuration's accounts map: folder -> account
        self._deployments: dict[str, Deployment] = {}
        self.loaded_roots: set[Path] = set()

    # -- the estate's resources

    def load(
        self, folders: Iterable[Path], plan_values: dict[Path, dict[str, Value]] | None = None, named: Iterable[Path] = ()
    ) -> list[Resource]:
        """The resources of every root module among ``folders`` and the modules they call.

        A folder another scanned folder calls as a local module is evaluated through its callers,
        unless it is named on the command line: then it is also a root of its own (a reusable
        module's own folder, scanned with --var-file, is how a user asks "what if I set these?").
        ``plan_values`` holds, per folder, the variable values a plan of that root was made with.
        """
        modules = [source for folder in folders if (source := self.sources.module(folder)) is not None]
        called = {callee for module in modules for callee in self._local_callees(module)}
        named_folders = {folder.resolve() for folder in named}
        resources: list[Resource] = []
        for module in modules:
            if module.path in called and module.path not in named_folders:
                continue
            if not module.resources and not module.modules:
                continue
            self.loaded_roots.add(module.path)
            found, failure = limits.contained(
                lambda: self._load_root(module, (plan_values or {}).get(module.path, {})),
                "while it was evaluated",
                seconds=limits.ROOT_TIME_LIMIT_SECONDS,
            )
            if failure:  # this root's resources are lost; the other roots are still checked
                where = module.files[0] if module.files else module.display
                self.sources.problems.append(Problem(where, f"is part of the root module {module.display}, which {failure}"))
            resources.extend(found or [])
        return resources

    def _load_root(self, module: ModuleSource, planned: dict[str, Value]) -> list[Resource]:
        root = Root(self, module, self._variable_values(module, planned))
        top = ModuleInstance(root, module, "", {}, {}, ALWAYS)
        self._instantiate_all(top)
        return self._resources_of(root)

    def _local_callees(self, module: ModuleSource) -> list[Path]:
        callees = []
        for block in module.modules.values():
            path = _literal_source(block)
            if path and path.startswith(("./", "../")):
                callees.append((module.path / path).resolve())
        return callees

    def _instantiate_all(self, instance: ModuleInstance) -> None:
        for name in instance.source.modules:
            children = instance.children(name)
            if isinstance(children, list):
                for child in children:
                    self._instantiate_all(child)

    def _variable_values(self, module: ModuleSource, planned: dict[str, Value]) -> dict[str, Value]:
        """Terraform's order: terraform.tfvars, *.auto.tfvars, then (here) a plan's values, then --var-file."""
        values: dict[str, Value] = {}
        automatic = [module.path / "terraform.tfvars", module.path / "terraform.tfvars.json"]
        automatic += sorted(
            p for p in module.path.glob("*.auto.tfvars*") if p.name.endswith((".auto.tfvars", ".auto.tfvars.json"))
        )
        for path in automatic:
            if path.is_file():
                values.update(self.read_tfvars(path))
        values.update(planned)
        for _, given in self.var_files:
            values.update(given)
        return values

    def read_tfvars(self, path: Path) -> dict[str, Value]:
        """A variable definitions file. It holds literal values only: Terraform refuses a reference or a function
        call there ("Variables not allowed"), and so does this linter: a problem, and that value is not known."""
        display = self.sources.display(path)
        values: dict[str, Value] = {}
        if path.name.lower().endswith(".json"):
            root = self.sources.parse(path, lambda data, _: parse_json(data, display).root)
            if root is not None and not isinstance(root, MapValue):
                self.sources.problems.append(Problem(display, "must hold an object of variable values", root.span.line))
            for name, value in root.entries.items() if isinstance(root, MapValue) else ():
                values[name] = relocated(value, value.span, f"the value of {name} in {display} (line {value.span.line})")
            return values
        body = self.sources.parse(path)
        for name, attribute in body.attributes.items() if body is not None else ():
            where = f"{display} (line {attribute.span.line})"
            found = _first_reference(attribute.expression)
            if found is None:
                value = Evaluator(None, {}).eval(attribute.expression)
            else:
                span = attribute.expression.span
                refused = "Function calls not allowed" if found.startswith("a function call") else "Variables not allowed"
                reason = f"sets {name} to {found}, but a variable definitions file holds only literal values"
                self.sources.problems.append(Problem(display, f"{reason} (Terraform: {refused})", span.line, span.column))
                value = Unknown(reason="Terraform refuses it: a variable definitions file holds literal values only", span=span)
            values[name] = relocated(value, value.span, f"the value of {name} in {where}")
        return values

    def resource_key(self, module: ModuleInstance, address: str) -> str:
        return f"{module.root.source.display}::{module.identity}{address}"

    # -- providers

    def deployment(self, module: ModuleInstance, address: str, block: syntax.Block | None) -> Deployment:
        key = f"tf:{module.root.source.display}:{module.identity}{address}"
        if key in self._deployments:
            return self._deployments[key]
        account = region = None
        if block is not None:
            settings = syntax.Body(
                {name: attribute for name, attribute in block.body.attributes.items() if name in _PROVIDER_SETTINGS},
                [inner for inner in block.body.blocks if inner.type in _PROVIDER_SETTINGS],
            )
            account, region = provider_settings(body_value(module.evaluator, settings, block.span))
        if account is None and "." not in address:
            configured = self.account_for(module.root.source.path)  # the default provider of a root in the accounts map
            account = getattr(configured, "id", None)
        name = f"provider {module.address}{address} of {module.root.source.display}"
        label = "data.aws_caller_identity.current.account_id"
        deployment = Deployment(key=key, name=name, account=account, region=region, account_label=label)
        self._deployments[key] = deployment
        return deployment

    def in_region(self, provider: Deployment, region: str | None, address: str) -> Deployment:
        return in_region(provider, region, address, self._deployments)

    # -- modules

    def call(self, caller: ModuleInstance, name: str, block: syntax.Block) -> list[ModuleInstance] | Unknown:
        source_text = _literal_source(block) or ""
        folder = self._module_folder(caller, name, source_text)
        if folder is None:
            where = (
                "is not in the scanned tree"
                if source_text.startswith(("./", "../"))
                else "is not downloaded (.terraform/modules)"
            )
            return Unknown(
                reason=f"module.{name} comes from {source_text or 'an unknown source'}, which {where}", span=block.span
            )
        source = self.sources.module(folder)
        if source is None:
            return Unknown(reason=f"module.{name}: {source_text} cannot be read", span=block.span)
        children: list[ModuleInstance] = []
        for instance in caller.expand(block.body, f"{caller.identity}module.{name}"):
            scope = caller.scope(instance)
            inputs = {
                key: (lambda attribute=attribute, scope=scope: scope.eval(attribute.expression))
                for key, attribute in block.body.attributes.items()
                if key not in _META_ARGUMENTS
            }
            providers = {"aws": caller.providers["aws"]} if "aws" in caller.providers else {}
            mapping = block.body.attributes.get("providers")
            if mapping is not None and isinstance(mapping.expression, syntax.ObjectExpression):
                for key_expression, value_expression in mapping.expression.items:
                    child_name, parent_name = _reference_name(key_expression), _reference_name(value_expression)
                    if child_name and parent_name:
                        providers[child_name] = caller.providers.get(parent_name) or self.deployment(caller, parent_name, None)
            if "aws" not in providers:
                providers["aws"] = caller.provider_for(syntax.Body(), "aws")
            children.append(
                ModuleInstance(
                    caller.root,
                    source,
                    f"{caller.address}module.{name}{instance.suffix}.",
                    inputs,
                    providers,
                    caller.condition | instance.condition,
                    f"module.{name} ({block.span.where()})",
                    f"{caller.identity}module.{name}{instance.identity}.",
                    instance,
                    (*caller.names, name),
                )  # fmt: skip
            )
        return children

    def _module_folder(self, caller: ModuleInstance, name: str, source_text: str) -> Path | None:
        if source_text.startswith(("./", "../")):
            folder = (caller.source.path / source_text).resolve()
            return folder if folder.is_dir() else None
        key = ".".join((*caller.names, name))  # as modules.json names it: the module names from the root
        manifest = _manifest(caller.root.source.path)
        self.sources.note_read(self.sources.display(manifest))  # even when missing: terraform init may create it
        for entry in _vendored(manifest):
            if entry.get("Key") == key:
                folder = (caller.root.source.path / entry["Dir"]).resolve()
                return folder if folder.is_dir() else None
        return None

    # -- resources

    def _resources_of(self, root: Root) -> list[Resource]:
        by_key: dict[str, list[tuple[Callable[[dict, Value], Resource], dict, Value]]] = {}
        policies: list[tuple[Value | None, Value | None]] = []
        for module in list(root.instances):
            for (mode, resource_type, name), block in module.source.resources.items():
                build = _BUILDERS.get((mode, resource_type))
                is_policy = (mode, resource_type) == _KEY_POLICY_TYPE
                if build is None and not is_policy:
                    continue
                local = f"{'data.' if mode == 'data' else ''}{resource_type}.{name}"
                for instance in module.instances_of(mode, resource_type, name) or []:
                    scope = module.scope(instance)
                    properties = body_value(scope, block.body, block.span)
                    if is_policy:
                        policies.append((field_of(properties, "key_id"), field_of(properties, "policy")))
                        continue
                    key = self.resource_key(module, f"{local}{instance.identity}")
                    address = f"{module.address}{local}{instance.suffix}"
                    header = dict(
                        key=key,
                        name=address,
                        type=local.rsplit(".", 1)[0],
                        span=block.span,
                        deployment=module.deployment_of(block.body, resource_type, scope, key.split("::", 1)[1]),
                        condition=module.condition | instance.condition,
                        arn_reference=f"{address}.arn",
                    )
                    by_key.setdefault(key, []).append((build, header, properties))
        apart = {key: self._kept_apart(group) for key, group in by_key.items() if len(group) > 1}
        apart = {key: group for key, group in apart.items() if group}
        if apart:  # a reference to an address whose instances stay apart names the instance of its branch
            by_key = {key: [(b, h, _referring(p, apart)) for b, h, p in group] for key, group in by_key.items()}
        found = [resource for group in by_key.values() for resource in self._one_per_address(group)]
        keys = {resource.key: [resource] for resource in found}
        for key, group in apart.items():
            keys[key] = [resource for resource in found if resource.key in {h["key"] for _, h, _ in group}]
        for key_reference, policy in policies:
            symbol = key_reference.symbol if isinstance(key_reference, Text) else None
            for target in keys.get(symbol.resource, []) if isinstance(symbol, Attribute) else []:
                if isinstance(target, KmsKey) and policy is not None:
                    target.policy = policy
        return found

    def _kept_apart(self, group: list[tuple[Callable[[dict, Value], Resource], dict, Value]]) -> list[tuple]:
        """The instances at one address, each under its own key, when they are not one resource: in different
        deployments, or not always one of them where what their conditions have in common holds (one
        resource for them all would exist in branches where none does, its absent values read as
        Terraform's defaults there: a default key policy, encryption by default, a role that is there)."""
        conditions = [h["condition"] for _, h, _ in group]
        deployment = self._shared_deployment([h["deployment"] for _, h, _ in group], group[0][1]["key"].split("::", 1)[1])
        if deployment is not None and _always_one(conditions):
            return []
        return [(build, {**h, "key": f"{h['key']}#{n}"}, p) for n, (build, h, p) in enumerate(group, 1)]

    def _one_per_address(self, group: list[tuple[Callable[[dict, Value], Resource], dict, Value]]) -> list[Resource]:
        """The resource at one address: instances there in different branches (see ``_distinct``) are one
        resource whose values are those of the branch's instance, when one of them exists wherever what
        their conditions have in common holds; otherwise they stay apart (see ``_kept_apart``)."""
        build, header, properties = group[0]
        if len(group) == 1:
            return [build(header, properties)]
        apart = self._kept_apart(group)
        if apart:
            return [build(h, p) for build, h, p in apart]
        conditions = [h["condition"] for _, h, _ in group]
        deployment = self._shared_deployment([h["deployment"] for _, h, _ in group], header["key"].split("::", 1)[1])
        merged = _merged([(condition, p) for condition, (_, _, p) in zip(conditions, group, strict=True)])
        return [build({**header, "deployment": deployment, "condition": frozenset.intersection(*conditions)}, merged)]

    def _shared_deployment(self, deployments: list[Deployment], address: str) -> Deployment | None:
        """Where instances at one address are: the same deployment, or the same provider in a Region that
        differs between branches (then a Region the sources do not give); None for different providers."""
        if all(deployment is deployments[0] for deployment in deployments):
            return deployments[0]
        providers = [deployment.provider if isinstance(deployment, _InRegion) else deployment for deployment in deployments]
        if all(provider is providers[0] for provider in providers):
            return self.in_region(providers[0], None, address)
        return None


def _merged(candidates: list[tuple[Assumption, Value]]) -> Value:
    """One value for the instances at one address, each value under its instance's condition. Blocks and
    lists that every instance has are merged key by key and item by item, so that a block written once is
    one volume or entry whose values depend on the branch; elsewhere a choice among the instances' values,
    absent where none exists. One instance always exists (see ``_kept_apart``), so a value they all have is
    that value."""
    conditions = [condition for condition, _ in candidates]
    span = candidates[0][1].span
    maps = [value for _, value in candidates if isinstance(value, MapValue)]
    if len(maps) == len(candidates):
        entries: dict[str, Value] = {}
        for name in dict.fromkeys(name for value in maps for name in value.entries):
            present = [(c, value.entries[name]) for c, value in zip(conditions, maps, strict=True) if name in value.entries]
            entries[name] = _merged(present) if len(present) == len(maps) else _choice_among(present, span)
        key_spans = {name: where for value in reversed(maps) for name, where in value.key_spans.items()}
        return MapValue(entries=entries, key_spans=key_spans, span=span)
    lists = [value for _, value in candidates if isinstance(value, ListValue)]
    if len(lists) == len(candidates) and len({len(value.items) for value in lists}) == 1:
        columns = zip(*(value.items for value in lists), strict=True)
        merged = [_merged(list(zip(conditions, items, strict=True))) for items in columns]
        return ListValue(items=tuple(merged), span=span)
    if _same([value for _, value in candidates]):
        return candidates[0][1]
    return _choice_among(candidates, span)


def _referring(value: Value, apart: dict[str, list[tuple]]) -> Value:
    """``value`` with each text naming an attribute of an address in ``apart`` made a choice among the
    instances there, each under its condition (absent where none exists)."""
    if isinstance(value, MapValue):
        return replace(value, entries={name: _referring(entry, apart) for name, entry in value.entries.items()})
    if isinstance(value, ListValue):
        return replace(value, items=tuple(_referring(item, apart) for item in value.items))
    if isinstance(value, Choice):
        return replace(value, branches=tuple((outcome, _referring(branch, apart)) for outcome, branch in value.branches))
    if not isinstance(value, Text):
        return value
    named = [part.resource for part in value.parts if isinstance(part, Attribute) and part.resource in apart]
    if not named:
        return value
    candidates = []
    for _, header, _ in apart[named[0]]:
        key = header["key"].rsplit("#", 1)[0]
        parts = tuple(
            replace(p, resource=header["key"]) if isinstance(p, Attribute) and p.resource == key else p for p in value.parts
        )
        candidates.append((header["condition"], _referring(replace(value, parts=parts), apart)))
    return _choice_among(candidates, value.span)


def _always_one(conditions: list[Assumption]) -> bool:
    """Whether one of ``conditions`` holds wherever what they have in common holds."""
    common = frozenset.intersection(*conditions)
    rest = [condition - common for condition in conditions]
    decisions = decisions_in(*rest)
    every = worlds(decisions)
    if not every or len(every[0]) < len(decisions):
        return False  # too many decisions to tell
    return all(any(all(world[subject] == outcome for subject, outcome in c) for c in rest) for world in every)


def _same(values: list[Value]) -> bool:
    """Whether the values are one text or scalar."""
    first = values[0]
    if isinstance(first, Text):
        return all(isinstance(value, Text) and value.parts == first.parts for value in values)
    if isinstance(first, Scalar):
        return all(isinstance(value, Scalar) and repr(value.value) == repr(first.value) for value in values)
    return False


# Resource types a rule can read, less IAM, and the marker of a suppression comment: a module folder
# without any of them (and calling none that has them) cannot change a finding, so it is not parsed.
_RELEVANT = re.compile(rb"aws_imagebuilder_|aws_kms_|aws_ebs_|ibpolicy-lint")
# A folder whose only relevant resources are IAM ones matters only where its account can be known.
_IAM = re.compile(rb"aws_iam_")
# Provider settings that can name an account (see provider_settings), in HCL or JSON; whole words, so that
# a comment may stand before the block and assume_role_policy does not count.
_ACCOUNT_SETTING = re.compile(rb"\b(?:assume_role|allowed_account_ids)\b")
# A module block's source, in HCL (source = "...") or JSON ("source": "...").
_SOURCE = re.compile(rb'\bsource"?\s*[=:]\s*"([^"]*)"')


def folders_that_matter(
    folders: Iterable[Path],
    note_read: Callable[[Path], None] = lambda path: None,
    account_known: Callable[[Path], bool] = lambda path: False,
) -> set[Path]:
    """The module folders worth parsing, of the (resolved) ``folders`` and the modules they call (local
    ones, and remote ones ``terraform init`` vendored), and their callers.

    A folder is worth parsing when it names an Image Builder, KMS or EBS resource type. One whose only
    relevant resources are IAM ones (roles and their policies) is worth parsing only when the account it
    deploys to can be known: rules read roles only in the accounts images are copied to. That is when
    ``account_known`` says so (the configuration's accounts map), or when it or a module calling it
    configures a provider with ``assume_role`` or ``allowed_account_ids``. A folder that cannot be read
    whole is always worth it, so that the loader reports it.

    A byte-level pass (no parsing): reading a file costs little, parsing HCL costs ~3,000 times more.
    ``note_read`` hears of every file read, so a cached scan knows what to re-check.
    """
    relevant: set[Path] = set()
    iam_only: set[Path] = set()
    names_account: set[Path] = set()
    callees: dict[Path, set[Path]] = {}
    calls_remote: set[Path] = set()
    manifests: dict[Path, list[Path]] = {}  # a folder's manifest: the folders of the remote modules it lists
    pending = list(folders)
    while pending:
        folder = pending.pop()
        if folder not in callees:
            _read_module_folder(folder, note_read, callees, (relevant, iam_only, names_account, calls_remote))
            pending.extend(callees[folder])
        if pending:
            continue
        # terraform init writes the manifest of the remote modules in the root's folder only: a module that calls
        # one finds it in the manifest of a folder calling it (at any depth), or in its own when it is a root.
        callers = _inverse(callees)
        for folder in calls_remote:
            for root in _closure({folder}, callers):
                if root not in manifests:
                    manifest = _manifest(root)
                    note_read(manifest)  # even when missing: terraform init may create it
                    manifests[root] = [(root / entry["Dir"]).resolve() for entry in _vendored(manifest) if _is_remote(entry)]
                added = set(manifests[root]) - callees[folder]
                callees[folder] |= added
                pending.extend(added)
    known = _closure({folder for folder in callees if folder in names_account or account_known(folder)}, callees)
    needed = relevant | (iam_only & known)
    return _closure(needed, _inverse(callees))


def _read_module_folder(
    folder: Path,
    note_read: Callable[[Path], None],
    callees: dict[Path, set[Path]],
    found: tuple[set[Path], set[Path], set[Path], set[Path]],
) -> None:
    """What a byte-level pass over a module folder's files says (see ``folders_that_matter``): the local modules it
    calls, and whether it is relevant, IAM-only, names an account or calls a remote module (the sets in ``found``)."""
    relevant, iam_only, names_account, calls_remote = found
    callees[folder] = set()
    note_read(folder)
    for path in _terraform_files(folder):
        note_read(path)
        try:
            with open(path, "rb") as stream:  # a hostile 5 GB file must not be read whole
                data = stream.read(limits.MAX_TERRAFORM_BYTES + 1)
        except OSError:
            relevant.add(folder)  # let the loader report it
            continue
        if len(data) > limits.MAX_TERRAFORM_BYTES:
            relevant.add(folder)  # let the loader report it
        data = _searchable(path, data)
        if _RELEVANT.search(data):
            relevant.add(folder)
        elif _IAM.search(data):
            iam_only.add(folder)
        if _ACCOUNT_SETTING.search(data):
            names_account.add(folder)
        for match in _SOURCE.finditer(data):
            source = match.group(1).decode("utf-8", "replace")
            if source.startswith(("./", "../")):
                callees[folder].add((folder / source).resolve())
            else:
                calls_remote.add(folder)  # a registry or Git module, or another argument called source


def _inverse(edges: dict[Path, set[Path]]) -> dict[Path, set[Path]]:
    """Who calls each folder, from what each folder calls."""
    inverse: dict[Path, set[Path]] = {}
    for caller, called in edges.items():
        for folder in called:
            inverse.setdefault(folder, set()).add(caller)
    return inverse


def _is_remote(entry: dict) -> bool:
    """A manifest entry of a downloaded module (a local one's source is a path, which the pass follows itself)."""
    return not str(entry.get("Source", "")).startswith(("./", "../"))


def _searchable(path: Path, data: bytes) -> bytes:
    """A Terraform file's bytes as the byte-level tests must see them: UTF-16 as UTF-8, and the escapes of a
    ``.tf.json`` file decoded (``"aws\\u005fkms_key"`` is ``aws_kms_key`` to Terraform)."""
    data = as_utf8(data)
    if b"\\" in data and path.name.lower().endswith(".json"):
        try:
            data = json.dumps(json.loads(data), ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):
            pass  # the loader reports it
    return data


def _closure(start: set[Path], edges: dict[Path, set[Path]]) -> set[Path]:
    """``start`` and every folder reachable from it along ``edges``."""
    reached = set(start)
    pending = list(start)
    while pending:
        for folder in edges.get(pending.pop(), ()):
            if folder not in reached:
                reached.add(folder)
                pending.append(folder)
    return reached


def _manifest(root: Path) -> Path:
    return root / ".terraform" / "modules" / "modules.json"


def _vendored(manifest: Path) -> list[dict]:
    """The modules ``terraform init`` downloaded for a root, from its manifest (``Key``: their path of module
    names, ``Dir``: where they are, relative to the root); none when it is missing or unreadable."""
    try:
        if not manifest.is_file():  # a FIFO or device must never be opened
            return []
        with open(manifest, "rb") as stream:
            data = stream.read(limits.MAX_DOCUMENT_BYTES + 1)
        listed = json.loads(data).get("Modules", []) if len(data) <= limits.MAX_DOCUMENT_BYTES else []
    except (OSError, ValueError, AttributeError, RecursionError):  # not a manifest terraform init wrote
        return []
    if not isinstance(listed, list):
        return []
    return [
        entry
        for entry in listed
        if isinstance(entry, dict) and entry.get("Key") and isinstance(entry.get("Dir"), str) and entry["Dir"]
    ]


def _terraform_files(folder: Path) -> list[Path]:
    try:
        return [path for path in folder.iterdir() if path.name.lower().endswith((".tf", ".tf.json")) and path.is_file()]
    except OSError:
        return []


def _literal_source(block: syntax.Block) -> str | None:
    """A module block's ``source`` when it is written as a plain string."""
    attribute = block.body.attributes.get("source")
    expression = attribute.expression if attribute is not None else None
    if isinstance(expression, syntax.Literal) and isinstance(expression.value, str):
        return expression.value
    if isinstance(expression, syntax.Template) and all(isinstance(part, str) for part in expression.parts):
        return "".join(expression.parts)
    return None


def _first_reference(expression: syntax.Expression, bound: frozenset[str] = frozenset()) -> str | None:
    """The first reference or function call in an expression (outside names a ``for`` binds), as written."""
    if isinstance(expression, syntax.Call):
        return f"a function call ({expression.text or expression.name + '()'})"
    if isinstance(expression, (syntax.Traversal, syntax.Splat)):
        root = expression.root if isinstance(expression, syntax.Traversal) else None
        if root is None or root not in bound:
            return f"a reference ({expression.text})"
    if isinstance(expression, syntax.ForExpression):
        inner = bound | {expression.value_name} | ({expression.key_name} if expression.key_name else set())
        parts = [
            (expression.collection, bound),
            (expression.key, inner),
            (expression.value, inner),
            (expression.condition, inner),
        ]
    else:
        parts = [(child, bound) for child in syntax.children(expression)]
    for child, names in parts:
        found = _first_reference(child, names) if child is not None else None
        if found is not None:
            return found
    return None


def load_var_file(path: str, sources: Sources) -> dict[str, Value]:
    """Values from a ``--var-file`` (``.tfvars`` or ``.tfvars.json``). Raises ValueError for the user."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"cannot read var file {path}: no such file")
    loader = TerraformLoader(sources, [])
    before = len(sources.problems)
    values = loader.read_tfvars(file)
    if len(sources.problems) > before:
        problem = sources.problems.pop()
        where = f" (line {problem.line})" if problem.line else ""
        raise ValueError(f"var file {path}{where} {problem.reason}")
    return values
