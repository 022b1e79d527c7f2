"""Who a distribution entry gives the image to, and in which Region.

``TargetAccountIds`` *copies* the AMI into other accounts (the destination role is needed);
launch permissions *share* it from the source account. An entry is cross-account when it names
anything other than the source account: the account the distribution configuration deploys to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from .kms import Region
from .model import Deployment, DistributionConfiguration, DistributionEntry
from .values import AccountOf, RegionOf, Text, Unknown, Value, World, holds, members, select

_ACCOUNT_ID = re.compile(r"^\d{12}$")


class Reach(Enum):
    SOURCE = "the source account"
    OTHER = "another account"
    UNKNOWN = "an account the sources do not give"


@dataclass(frozen=True)
class Recipient:
    value: Value  # the item naming the recipient: findings about it point here
    copies: bool  # True: TargetAccountIds (copied); False: a launch permission (shared)
    kind: str  # "account", "organization", "organizational unit", "everyone"
    reach: Reach
    shown: str
    account: str | None = None  # the literal account ID, when it is one
    reason: str = ""  # why the reach is unknown

    def describe(self) -> str:
        if self.kind == "everyone":
            return "everyone (launch permission group all)"
        return f"{self.kind} {self.shown}"


@dataclass(frozen=True)
class EntryView:
    """A distribution entry as it is in one world."""

    entry: DistributionEntry
    configuration: DistributionConfiguration
    region: Region
    kms_key_id: Value | None
    recipients: tuple[Recipient, ...]

    @property
    def source(self) -> Deployment:
        return self.configuration.deployment

    def others(self, copies: bool | None = None) -> list[Recipient]:
        return [r for r in self.recipients if r.reach is Reach.OTHER and (copies is None or r.copies == copies)]

    def undetermined(self) -> list[Recipient]:
        return [r for r in self.recipients if r.reach is Reach.UNKNOWN]

    @property
    def is_cross_account(self) -> bool:
        return bool(self.others())


def view_entry(entry: DistributionEntry, configuration: DistributionConfiguration, world: World) -> EntryView | None:
    """The entry in this world, or None when it does not exist there."""
    if not holds(configuration.condition | entry.condition, world):
        return None
    source = configuration.deployment
    recipients: list[Recipient] = []
    launch = entry.launch_permission
    for field_value, copies, kind in (
        (entry.target_account_ids, True, "account"),
        (launch.user_ids, False, "account"),
        (launch.user_groups, False, "group"),
        (launch.organization_arns, False, "organization"),
        (launch.organizational_unit_arns, False, "organizational unit"),
    ):
        for _, item in members(select(field_value, world)):
            recipients.append(_recipient(item, copies, kind, source))
    return EntryView(
        entry=entry,
        configuration=configuration,
        region=region_of(select(entry.region, world)),
        kms_key_id=select(entry.kms_key_id, world),
        recipients=tuple(recipients),
    )


def views_of(configuration: DistributionConfiguration, world: World) -> list[EntryView]:
    return [view for entry in configuration.entries if (view := view_entry(entry, configuration, world)) is not None]


def _recipient(item: Value, copies: bool, kind: str, source: Deployment) -> Recipient:
    if isinstance(item, Unknown):
        return Recipient(item, copies, kind, Reach.UNKNOWN, _shown(item), reason=item.reason)
    if not isinstance(item, Text):
        return Recipient(item, copies, kind, Reach.UNKNOWN, _shown(item), reason="not a text value")
    shown = item.shown()
    if kind == "group":
        if (item.literal or "").lower() == "all":
            return Recipient(item, copies, "everyone", Reach.OTHER, "all")
        return Recipient(item, copies, kind, Reach.UNKNOWN, shown, reason=f"{shown} is not a launch permission group")
    if kind in ("organization", "organizational unit"):
        return Recipient(item, copies, kind, Reach.OTHER, shown)
    symbol = item.symbol
    if isinstance(symbol, AccountOf):
        if symbol.deployment == source.key:
            return Recipient(item, copies, kind, Reach.SOURCE, shown)
        return Recipient(item, copies, kind, Reach.UNKNOWN, shown, reason=f"{shown} is the account of another deployment")
    literal = item.literal
    if literal is None:
        reason = item.opaque_reason() or f"{shown} is computed"
        return Recipient(item, copies, kind, Reach.UNKNOWN, shown, reason=reason)
    literal = literal.strip()
    if not _ACCOUNT_ID.match(literal):
        return Recipient(item, copies, kind, Reach.UNKNOWN, literal, reason=f"{literal!r} is not a 12-digit account ID")
    reach = Reach.SOURCE if literal == source.account else Reach.OTHER
    return Recipient(item, copies, kind, reach, literal, account=literal)


def _shown(item: Value) -> str:
    return item.origin or "a value"


def region_of(value: Value | None) -> Region:
    if isinstance(value, Text):
        if isinstance(value.symbol, RegionOf):
            return value.symbol
        literal = value.literal
        return literal.strip() if literal else None
    return None


def regions_differ(first: Region, second: Region, apart: Mapping[RegionOf, frozenset[str]] | None = None) -> bool | None:
    """True when the Regions certainly differ, False when certainly the same, None when unknown.

    ``apart`` lists, for the Region of a deployment, literal Regions known to differ from it
    (``regions_away_from_build``); a deployment's Region and a literal are otherwise not compared.
    """
    if first is None or second is None:
        return None
    if isinstance(first, str) and isinstance(second, str):
        return first != second
    if isinstance(first, RegionOf) and isinstance(second, RegionOf):
        return False if first == second else None
    symbol, literal = (first, second) if isinstance(first, RegionOf) else (second, first)
    known_apart = apart.get(symbol, frozenset()) if apart else frozenset()  # type: ignore[arg-type]
    return True if literal in known_apart else None


def regions_away_from_build(views: list[EntryView]) -> dict[RegionOf, frozenset[str]]:
    """The literal Regions of a configuration's entries, as apart from the build Region, when another
    entry is in the build Region (a distribution configuration has one entry per Region)."""
    found: dict[RegionOf, frozenset[str]] = {}
    literals = frozenset(view.region for view in views if isinstance(view.region, str))
    for view in views:
        if isinstance(view.region, RegionOf) and view.region.deployment == view.source.key:
            found[view.region] = literals
    return found


def describe_recipients(recipients: list[Recipient], verbs: bool = True) -> str:
    """'copies it to account 111122223333 and shares it with everyone (launch permission group all)'.

    Without verbs, just the recipients: 'account 111122223333 and everyone (launch permission group all)'.
    Where the values came from (a default, a module input) is said once per origin.
    """
    copied = _names([r for r in recipients if r.copies])
    shared = _names([r for r in recipients if not r.copies])
    if not verbs:
        names = list(dict.fromkeys([*copied, *shared]))
        phrases = [_list(names)] if names else []
    else:
        phrases = []
        if copied:
            phrases.append("copies it to " + _list(copied))
        if shared:
            phrases.append("shares it with " + _list(shared))
    origins = list(dict.fromkeys(r.value.origin for r in recipients if r.value.origin))
    where = f" (from {'; '.join(origins)})" if origins else ""
    return " and ".join(phrases) + where


def _names(recipients: list[Recipient]) -> list[str]:
    return list(dict.fromkeys(recipient.describe() for recipient in recipients))


def _list(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
