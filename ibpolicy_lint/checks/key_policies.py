"""IBP2xx: key policies that shut out the Image Builder service-linked role or the target accounts.

RULES.md section 3, "IBP2xx — key policies and KMS permissions". A key is in play when it encrypts
a recipe volume or a distribution entry of an image that goes to another account. Its policy is
evaluated (``iam.decide``) for the service-linked role of the source account and for each target
account; explicit Denies are IBP206's alone, so IBP201/IBP202 report only what no statement allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..estate import Estate, Wire
from ..findings import Finding, Severity
from ..iam import (
    SLR_ACTIONS,
    SLR_PATH,
    TARGET_CORE_ACTIONS,
    Account,
    Answer,
    Caller,
    Decision,
    Policy,
    Statement,
    Tri,
    decide,
    default_key_policy,
    read_policy,
    root_arn,
    same_account,
    slr_arn,
    statement_json,
)
from ..kms import KeyIdentity, identify_key
from ..model import DistributionConfiguration, DistributionEntry, ImageRecipe, KmsGrant, KmsKey
from ..sharing import EntryView, Recipient, view_entry, views_of
from ..values import AccountOf, Assumption, Text, Unknown, Value, World, holds, literal_text, members, select, symbol_at
from ..verdicts import Undecided, Verdict, Violated, judge
from . import emits

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# What a target account needs on a key to copy or launch the image (RULES.md, IBP202).
TARGET_ACTIONS = (*TARGET_CORE_ACTIONS, "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKeyWithoutPlaintext")
SUGGESTED_TARGET_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*", "kms:GenerateDataKey*"]


# --- where keys are used ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A place a key may be named: a recipe volume (and the distributions wired to it) or an entry."""

    value: Value
    condition: Assumption
    recipe: ImageRecipe | None = None
    wires: tuple[Wire, ...] = ()
    configuration: DistributionConfiguration | None = None
    entry: DistributionEntry | None = None


@dataclass(frozen=True)
class KeyUse:
    """A key encrypting an image that goes to other accounts, in one world."""

    key: KmsKey
    identity: KeyIdentity
    source: Account  # the account the distribution configuration deploys to
    source_name: str
    recipients: tuple[Recipient, ...]  # other accounts only
    distribution_key: bool  # named by the distribution entry (not a recipe volume)
    region: str | None  # where the key is used (kms:ViaService), when the sources say


def _sites_by_key(estate: Estate) -> dict[str, list[Site]]:
    """For every key defined in the sources, the places whose value may name it (in any branch)."""
    sites: dict[str, list[Site]] = {}

    def note(value: Value | None, site: Site) -> None:
        for _, alternative in members(value) if value is not None else ():
            identity = identify_key(alternative, estate)
            if isinstance(identity, KeyIdentity) and identity.key is not None:
                keyed = sites.setdefault(identity.key.key, [])
                if site not in keyed:
                    keyed.append(site)

    for recipe in estate.all(ImageRecipe):
        wires = tuple(estate.wires_from(recipe))
        if not wires:
            continue
        for volume in recipe.volumes:
            note(volume.kms_key_id, Site(volume.kms_key_id, recipe.condition | volume.condition, recipe=recipe, wires=wires))
    for configuration in estate.all(DistributionConfiguration):
        for entry in configuration.entries:
            site = Site(entry.kms_key_id, configuration.condition | entry.condition, configuration=configuration, entry=entry)
            note(entry.kms_key_id, site)
    return sites


def _uses(key: KmsKey, sites: list[Site], world: World, estate: Estate) -> list[KeyUse]:
    """Where the key encrypts an image that goes to another account, in this world."""
    if not holds(key.condition, world):
        return []
    found: list[KeyUse] = []
    for site in sites:
        if not holds(site.condition, world):
            continue
        identity = identify_key(select(site.value, world), estate)
        if not isinstance(identity, KeyIdentity) or identity.key is not key:
            continue
        if site.entry is not None and site.configuration is not None:
            view = view_entry(site.entry, site.configuration, world)
            views = [view] if view is not None else []
        else:
            views = [view for wire in site.wires if holds(wire.condition, world) for view in views_of(wire.distribution, world)]
        for view in views:
            others = tuple(view.others())
            if others:
                source = view.source.account_reference()
                region = _region_of_use(key, site, view)
                found.append(KeyUse(key, identity, source, view.configuration.name, others, site.entry is not None, region))
    return found


def _region_of_use(key: KmsKey, site: Site, view: EntryView) -> str | None:
    """The Region KMS is called in: the key's own, else the entry's (a distribution key must be
    there, IBP106) or the build Region (a recipe key)."""
    if key.deployment.region:
        return key.deployment.region
    if site.entry is not None:
        return view.region if isinstance(view.region, str) else None
    return site.recipe.deployment.region if site.recipe is not None else None


def _common_region(uses: list[KeyUse]) -> str | None:
    regions = {use.region for use in uses}
    return regions.pop() if len(regions) == 1 else None


def _key_policy(key: KmsKey, world: World) -> Policy:
    if key.policy is None:
        return default_key_policy(_owner(key), key.span)
    return read_policy(select(key.policy, world), key.policy.span)


def _owner(key: KmsKey) -> Account:
    return key.deployment.account_reference()


def _owned_by(key: KmsKey, account: Account) -> Tri:
    return same_account(_owner(key), account)


def _source_owned(key: KmsKey, use: KeyUse) -> bool:
    """The key belongs to the source account: not to a target account, and not known to be elsewhere."""
    if any(r.account is not None and _owned_by(key, r.account) is Tri.YES for r in use.recipients):
        return False
    return _owned_by(key, use.source) is not Tri.NO


def _policy_span(key: KmsKey):
    return key.policy.span if key.policy is not None else key.span


def _checked_keys(estate: Estate) -> Iterator[tuple[KmsKey, list[Site]]]:
    sites_by_key = _sites_by_key(estate)
    for key in estate.all(KmsKey):
        sites = sites_by_key.get(key.key)
        if sites:
            yield key, sites


def _grants_for(key: KmsKey, estate: Estate, world: World) -> list[KmsGrant]:
    found = []
    for grant in estate.all(KmsGrant):
        if not any(estate.referenced(reference) is key for _, reference in members(grant.key_reference)):
            continue  # a grant on another key in every branch
        if holds(grant.condition, world) and estate.referenced(select(grant.key_reference, world)) is key:
            found.append(grant)
    return found


@dataclass(frozen=True)
class SlrGrants:
    """What ``aws_kms_grant`` resources give the service-linked role, as far as the sources tell."""

    operations: frozenset[str]
    unsure: str = ""  # why a grant may give more than ``operations``


def _granted_to_slr(grants: list[KmsGrant], slr: Caller, world: World) -> SlrGrants:
    """Operations that grants give the service-linked role, matched on the literal grantee ARN."""
    granted: set[str] = set()
    unsure = ""
    for grant in grants:
        grantee = select(grant.grantee, world)
        to_slr = _names_slr(grantee, slr)
        if to_slr is False:
            continue
        for _, operation in members(select(grant.operations, world)):
            name = literal_text(operation)
            if name is None:
                unsure = unsure or f"{grant.name} grants operations the sources do not give"
            elif to_slr:
                granted.add(f"kms:{name}")
        if to_slr is None:
            unsure = unsure or f"{grant.name} grants to {_grantee_shown(grantee)}, which may be the service-linked role"
    return SlrGrants(frozenset(granted), unsure)


_SLR_ARN = re.compile(rf"^arn:[^:]*:iam::(?P<account>[^:]*):{re.escape(SLR_PATH)}$")


def _names_slr(grantee: Value | None, slr: Caller) -> bool | None:
    """Whether a grantee is ``slr``: the role's ARN in its account; None: the sources do not say (computed)."""
    if not isinstance(grantee, Text):
        return None
    shape, symbols = grantee.shape()
    match = _SLR_ARN.match(shape)
    if match is None:
        resource = shape.rsplit(":", 1)[-1]
        return None if "\x00" in resource else False
    # Another account's service-linked role is not this one; an account the sources do not give may be.
    segment = match.group("account")
    account = symbol_at(segment, symbols) if "\x00" in segment else segment
    if not isinstance(account, (str, AccountOf)):
        return None
    same = slr.same_account(account)
    return None if same is Tri.MAYBE else same is Tri.YES


def _grantee_shown(grantee: Value | None) -> str:
    if isinstance(grantee, Unknown):
        return f"a value the sources do not give ({grantee.reason})"
    return grantee.shown() if isinstance(grantee, Text) else "a value the sources do not give"


# --- IBP201: the service-linked role -----------------------------------------------------------------------


@emits("IBP201")
def service_linked_role_shut_out(estate: Estate) -> Iterator[Finding]:
    for key, sites in _checked_keys(estate):

        def decide_world(world: World):
            uses = [use for use in _uses(key, sites, world, estate) if _source_owned(key, use)]
            if not uses or key.policy is None:
                return None  # the default policy's root statement delegates to IAM
            policy = _key_policy(key, world)
            if policy.unknown:
                return None
            source = uses[0].source
            caller = _service_linked_role(source, uses)
            grants = _granted_to_slr(_grants_for(key, estate, world), caller, world)
            decisions = {action: decide(policy, caller, action) for action in SLR_ACTIONS if action not in grants.operations}
            missing = [a for a, d in decisions.items() if d.answer is Answer.NOT_ALLOWED]
            unsure = [a for a, d in decisions.items() if d.answer is Answer.CANNOT_TELL]
            shares = any(not recipient.copies for use in uses for recipient in use.recipients)
            if missing and grants.unsure:
                return Undecided(([*unsure, *missing], grants.unsure, policy))
            if missing:
                return Violated((missing, source, shares, _narrow_root_statement(policy, caller), policy))
            if unsure:
                reason = next(r for a in unsure for r in decisions[a].reasons)
                return Undecided((unsure, reason, policy))
            return None

        verdict = judge(decide_world)
        if verdict.violated:
            missing, source, shares, narrow, policy = verdict.first()
            span = narrow.span if narrow is not None else _policy_span(key)
            why = "its root statement allows only some of them" if narrow is not None else "no statement allows them"
            yield Finding(
                "IBP201",
                verdict.severity(ERROR if shares else WARNING),
                f"The key policy of {key.name} does not let the Image Builder service-linked role of the source account "
                f"use the key ({', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not allowed; {why})"
                f"{verdict.condition()}.",
                span,
                key.name,
                fix=(
                    "Restore the root statement (Allow "
                    + root_arn(source)
                    + " kms:*), or add: "
                    + statement_json("AllowImageBuilderServiceLinkedRole", slr_arn(source), list(SLR_ACTIONS))
                ),
            )
        elif verdict.undecided:
            unsure, reason, policy = verdict.undecided[0][1]
            yield Finding(
                "IBP201",
                INFO,
                f"Cannot tell whether the key policy of {key.name} lets the Image Builder service-linked role use the key "
                f"({', '.join(unsure)}): {reason}. Verify the policy allows them to the source account's root or to the role.",
                _policy_span(key),
                key.name,
            )


def _narrow_root_statement(policy: Policy, slr: Caller) -> Statement | None:
    """An Allow for the source account's root that covers some, but not all, of the seven actions."""
    root = Caller(slr.account, "the source account", other_than=slr.other_than, region=slr.region)
    for statement in policy.statements:
        if statement.effect != "Allow" or not statement.principals:
            continue
        if not any(p.kind == "account" and root.same_account(p.account) is Tri.YES for p in statement.principals):
            continue
        single = Policy(policy.span, (statement,))
        covered = [action for action in SLR_ACTIONS if decide(single, root, action).answer is Answer.ALLOWED]
        if covered and len(covered) < len(SLR_ACTIONS):
            return statement
    return None


# --- IBP202 / IBP203: the accounts on either side ----------------------------------------------------------


@emits("IBP202")
def target_account_shut_out(estate: Estate) -> Iterator[Finding]:
    for key, sites in _checked_keys(estate):
        for account in _target_accounts(key, sites, estate):
            yield from _target_account_finding(key, sites, account, estate)


def _target_accounts(key: KmsKey, sites: list[Site], estate: Estate) -> list[str]:
    """Every account that some branch of the sources gives an image encrypted with the key to."""

    def accounts_in(world: World):
        accounts = {r.account for use in _uses(key, sites, world, estate) for r in use.recipients if r.account is not None}
        return Violated(accounts) if accounts else None

    return sorted({account for _, accounts in judge(accounts_in).violated for account in accounts})


def _service_linked_role(source: Account, uses: list[KeyUse]) -> Caller:
    """The Image Builder service-linked role of the source account, which is none of the target accounts."""
    targets = frozenset(r.account for use in uses for r in use.recipients if r.account is not None)
    return Caller(source, "the Image Builder service-linked role", role=SLR_PATH, other_than=targets, region=_common_region(uses))


def _target_caller(account: str, uses: list[KeyUse]) -> Caller:
    """Any principal of a target account, which is not the source account (it receives the image)."""
    return Caller(account, f"account {account}", other_than=frozenset(use.source for use in uses), region=_common_region(uses))


def _target_account_finding(key: KmsKey, sites: list[Site], account: str, estate: Estate) -> Iterator[Finding]:
    def decide_world(world: World):
        uses = [use for use in _uses(key, sites, world, estate) if any(r.account == account for r in use.recipients)]
        if not uses or _owned_by(key, account) is Tri.YES:
            return None
        caller = _target_caller(account, uses)
        policy = _key_policy(key, world)
        if policy.unknown:
            return Undecided(f"the key policy cannot be read ({policy.unknown})")
        decisions = {action: decide(policy, caller, action) for action in TARGET_ACTIONS}
        allowed = {a for a, d in decisions.items() if d.answer is Answer.ALLOWED}
        denied = {a for a, d in decisions.items() if d.answer is Answer.DENIED}  # IBP206 reports those
        unsure = [d for a, d in decisions.items() if d.answer is Answer.CANNOT_TELL]
        missing = [
            a for a in TARGET_ACTIONS if a not in allowed and a not in denied and decisions[a].answer is Answer.NOT_ALLOWED
        ]
        copies = any(r.copies for use in uses for r in use.recipients if r.account == account)
        shares = any(not r.copies for use in uses for r in use.recipients if r.account == account)
        core_missing = [a for a in TARGET_CORE_ACTIONS if a in missing]
        severity = None
        if copies and len(core_missing) == len(TARGET_CORE_ACTIONS):
            severity = ERROR
        elif copies and missing:
            severity = WARNING
        if shares and core_missing:
            severity = severity or WARNING
        if severity is not None:
            return Violated((severity, missing, copies, shares, policy, uses[0].source_name))
        if unsure and not allowed >= set(TARGET_CORE_ACTIONS):
            return Undecided(unsure[0].reasons[0] if unsure[0].reasons else "a statement cannot be decided")
        return None

    verdict: Verdict = judge(decide_world)
    if verdict.violated:
        severity, missing, copies, shares, policy, configuration = max((d for _, d in verdict.violated), key=lambda d: d[0])
        if not verdict.certain:
            severity = severity.lowered()
        verbs = " and ".join(v for v, on in (("copies the image to", copies), ("shares the image with", shares)) if on)
        when = f" (the failure comes when account {account} launches the image)" if shares and not copies else ""
        if policy.default:
            why = f"{key.name} has no key policy, and the default policy lets no other account use the key"
        else:
            why = "its key policy does not let that account use the key"
        yield Finding(
            "IBP202",
            severity,
            f"{configuration} {verbs} account {account}, encrypted with {key.name}, but {why} "
            f"({', '.join(missing)} not allowed){verdict.condition()}{when}.",
            _policy_span(key),
            key.name,
            fix="Add to the key policy: " + statement_json(f"AllowAccount{account}", root_arn(account), SUGGESTED_TARGET_ACTIONS),
        )
    elif verdict.undecided:
        reason = verdict.undecided[0][1]
        yield Finding(
            "IBP202",
            INFO,
            f"Cannot tell whether the key policy of {key.name} lets account {account} use the key: {reason}. Verify that "
            f"account {account} is allowed {', '.join(TARGET_CORE_ACTIONS)}.",
            _policy_span(key),
            key.name,
        )


@emits("IBP203")
def source_account_shut_out(estate: Estate) -> Iterator[Finding]:
    """A distribution key owned by the target account must admit the source account."""
    for key, sites in _checked_keys(estate):

        def decide_world(world: World):
            for use in _uses(key, sites, world, estate):
                owners = [r for r in use.recipients if r.account is not None and _owned_by(key, r.account) is Tri.YES]
                if not use.distribution_key or not owners:
                    continue
                policy = _key_policy(key, world)
                if policy.unknown:
                    return None
                targets = frozenset(owner.account for owner in owners)
                caller = Caller(use.source, "the source account", other_than=targets, region=use.region)
                decisions = [decide(policy, caller, action) for action in SLR_ACTIONS]
                if all(d.answer is Answer.NOT_ALLOWED for d in decisions):
                    return Violated((owners[0].account, use.source))
            return None

        verdict = judge(decide_world)
        if verdict.violated:
            owner, source = verdict.first()
            yield Finding(
                "IBP203",
                verdict.severity(ERROR),
                f"{key.name} belongs to the target account {owner}, and its key policy admits nothing from the source "
                f"account{verdict.condition()}: the copy cannot be encrypted with it.",
                _policy_span(key),
                key.name,
                fix="Add to the key policy: "
                + statement_json("AllowImageBuilderSourceAccount", root_arn(source), [*SUGGESTED_TARGET_ACTIONS, "kms:Encrypt"]),
            )


# --- IBP206: explicit denies ---------------------------------------------------------------------------------


@emits("IBP206")
def deny_blocks_distribution(estate: Estate) -> Iterator[Finding]:
    for key, sites in _checked_keys(estate):

        def decide_world(world: World):
            found = []
            uses = _uses(key, sites, world, estate)
            if not uses:
                return None
            policy = _key_policy(key, world)
            for caller, actions in _needed(key, uses):
                for action in actions:
                    decision: Decision = decide(policy, caller, action)
                    for statement in decision.denying:
                        found.append((statement, caller, action))
            return Violated(found) if found else None

        # Each Deny statement and whom it blocks is judged on its own: the worlds in which it blocks.
        groups = judge(decide_world).split(lambda found: (((s.span, c.description), (s, a)) for s, c, a in found))
        for (span, who), group in groups.items():
            statement = group.first()[0][0]
            actions = sorted({action for _, blocked in group.violated for _, action in blocked})
            yield Finding(
                "IBP206",
                group.severity(WARNING if statement.conditioned else ERROR),
                f"A Deny statement in the key policy of {key.name} blocks {who} from {', '.join(actions)}"
                f"{' under its condition' if statement.conditioned else ''}{group.condition()}: an explicit Deny wins "
                "over every Allow.",
                span,
                key.name,
                fix=f"Narrow the Deny so it excludes {who} (a condition on kms:CallerAccount or aws:PrincipalArn).",
            )


def _needed(key: KmsKey, uses: list[KeyUse]) -> list[tuple[Caller, tuple[str, ...]]]:
    """Who must be able to use the key, and for what."""
    needed: list[tuple[Caller, tuple[str, ...]]] = []
    for use in uses:
        if _source_owned(key, use):
            needed.append((_service_linked_role(use.source, [use]), SLR_ACTIONS))
        for recipient in use.recipients:
            if recipient.account is not None and _owned_by(key, recipient.account) is not Tri.YES:
                needed.append((_target_caller(recipient.account, [use]), TARGET_CORE_ACTIONS))
    unique: dict[str, tuple[Caller, tuple[str, ...]]] = {}
    for caller, actions in needed:
        unique.setdefault(caller.description, (caller, actions))
    return list(unique.values())


CHECKS = [service_linked_role_shut_out, target_account_shut_out, source_account_shut_out, deny_blocks_distribution]
