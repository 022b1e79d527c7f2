"""What a ``KmsKeyId`` names: an AWS managed key, a customer managed key, or a key of unknown kind.

AWS managed keys are recognisable by alias (``alias/aws/<service>``). Customers cannot create
``alias/aws/...``, so any other alias, and any key defined in the sources, is customer managed.
A bare key ID or key ARN not defined in the sources is of unknown kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .estate import Estate
from .model import Deployment, KeyLookup, KmsAlias, KmsKey, Resource
from .values import ARN, KEY_ID, Attribute, RegionOf, Symbol, Text, Unknown, Value, is_absent, literal_text, symbol_at

MANAGED_ALIAS_PREFIX = "alias/aws/"
DEFAULT_EBS_ALIAS = "alias/aws/ebs"

_KEY_ID = re.compile(r"^(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.I)


class KeyKind(Enum):
    AWS_MANAGED = "AWS managed"
    CUSTOMER = "customer managed"
    UNKNOWN = "unknown kind"


class KeyForm(Enum):
    KEY_ARN = "key ARN"
    ALIAS_ARN = "alias ARN"
    KEY_ID = "bare key ID"
    ALIAS_NAME = "alias name"
    OTHER = "key reference"


Region = str | RegionOf | None  # a literal Region, the Region of a deployment, or not known


@dataclass(frozen=True)
class KeyIdentity:
    kind: KeyKind
    form: KeyForm
    shown: str  # as the sources write it
    value: Value  # the value naming the key, for its span and origin
    region: Region = None
    key: KmsKey | None = None  # the key's definition, when it is in the sources
    resource: Resource | None = None  # the resource the value refers to (key, alias or lookup)


@dataclass(frozen=True)
class Unresolved:
    """A key the sources do not give (parameter without default, imported value...)."""

    reason: str
    value: Value


def identify_key(value: Value, estate: Estate) -> KeyIdentity | Unresolved | None:
    """What the value names; None when it names no key (absent)."""
    if is_absent(value):
        return None
    if isinstance(value, Unknown):
        return Unresolved(value.reason, value)
    if not isinstance(value, Text):
        return KeyIdentity(KeyKind.UNKNOWN, KeyForm.OTHER, str(getattr(value, "value", "")), value)
    referenced = estate.referenced(value)
    if referenced is not None:
        return _identify_reference(value, referenced, estate)
    return _identify_text(value, estate)


def _identify_reference(value: Text, resource: Resource, estate: Estate) -> KeyIdentity | Unresolved:
    attribute = value.symbol.attribute  # type: ignore[union-attr]
    shown = value.shown()
    region = region_of_deployment(resource.deployment)
    if isinstance(resource, KmsKey):
        form = KeyForm.KEY_ARN if attribute == ARN else KeyForm.KEY_ID if attribute == KEY_ID else KeyForm.OTHER
        return KeyIdentity(KeyKind.CUSTOMER, form, shown, value, region, resource, resource)
    if isinstance(resource, KmsAlias):
        form = KeyForm.ALIAS_ARN if attribute == ARN else KeyForm.ALIAS_NAME
        return KeyIdentity(KeyKind.CUSTOMER, form, shown, value, region, alias_target(resource, estate), resource)
    if isinstance(resource, KeyLookup):
        looked_up = identify_key(resource.lookup, estate) if resource.lookup is not None else None
        if isinstance(looked_up, Unresolved):
            return Unresolved(f"{shown} looks up {looked_up.reason}", value)
        kind = looked_up.kind if looked_up is not None else KeyKind.UNKNOWN
        form = KeyForm.KEY_ARN if attribute == ARN else KeyForm.KEY_ID
        target = looked_up.key if looked_up is not None else None
        described = f"{shown} (looked up by {looked_up.shown})" if looked_up is not None else shown
        return KeyIdentity(kind, form, described, value, region, target, resource)
    return KeyIdentity(KeyKind.UNKNOWN, KeyForm.OTHER, shown, value, None, None, resource)


_ARN = re.compile(r"^arn:(?P<partition>[^:]*):kms:(?P<region>[^:]*):(?P<account>[^:]*):(?P<type>alias|key)/(?P<name>.+)$")


def _identify_text(value: Text, estate: Estate) -> KeyIdentity | Unresolved:
    shape, symbols = value.shape()
    shown = value.shown()
    match = _ARN.match(shape)
    if match is not None:
        region = _region_in(match.group("region"), symbols)
        name = match.group("name")
        if match.group("type") == "alias":
            return _alias(f"alias/{name}", KeyForm.ALIAS_ARN, value, shown, region, estate)
        key_symbol = symbol_at(name, symbols)
        if isinstance(key_symbol, Attribute):
            key = estate.resources.get(key_symbol.resource)
            if isinstance(key, KmsKey):
                return KeyIdentity(KeyKind.CUSTOMER, KeyForm.KEY_ARN, shown, value, region, key, key)
        if "\x00" in name:
            return _unresolved_part(value) or KeyIdentity(KeyKind.UNKNOWN, KeyForm.KEY_ARN, shown, value, region)
        return KeyIdentity(KeyKind.UNKNOWN, KeyForm.KEY_ARN, shown, value, region)
    if shape.startswith("alias/"):
        return _alias(shape, KeyForm.ALIAS_NAME, value, shown, None, estate)
    unresolved = _unresolved_part(value)
    if unresolved is not None:
        return unresolved
    form = KeyForm.KEY_ID if _KEY_ID.match(shape) else KeyForm.OTHER
    return KeyIdentity(KeyKind.UNKNOWN, form, shown, value)


def _alias(alias: str, form: KeyForm, value: Text, shown: str, region: Region, estate: Estate) -> KeyIdentity | Unresolved:
    literal_prefix = alias.split("\x00", 1)[0]
    if literal_prefix.startswith(MANAGED_ALIAS_PREFIX):
        return KeyIdentity(KeyKind.AWS_MANAGED, form, shown, value, region)
    if "\x00" in alias and MANAGED_ALIAS_PREFIX.startswith(literal_prefix):
        # The alias name is computed and could still turn out to be alias/aws/...
        return _unresolved_part(value) or Unresolved(f"the alias name in {shown} is computed", value)
    defined = next((a for a in estate.all(KmsAlias) if literal_text(a.alias_name) == alias), None)
    key = alias_target(defined, estate) if defined is not None else None
    return KeyIdentity(KeyKind.CUSTOMER, form, shown, value, region, key, defined)


def alias_target(alias: KmsAlias, estate: Estate) -> KmsKey | None:
    target = estate.referenced(alias.target_key)
    if isinstance(target, KmsKey):
        return target
    return None


def region_of_deployment(deployment: Deployment) -> Region:
    return deployment.region or RegionOf(deployment.key)


def _region_in(segment: str, symbols: list[Symbol]) -> Region:
    if "\x00" not in segment:
        return segment or None
    symbol = symbol_at(segment, symbols)
    return symbol if isinstance(symbol, RegionOf) else None


def _unresolved_part(value: Text) -> Unresolved | None:
    reason = value.opaque_reason()
    return Unresolved(reason, value) if reason else None
