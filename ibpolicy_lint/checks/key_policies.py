"""IBP2xx: key policies that shut out the Image Builder service-linked role or the target accounts.

RULES.md section 3, "IBP2xx — key policies and KMS permissions". A key is in play when it encrypts
a recipe volume or a distribution entry of an image that goes to another account. Its policy is
evaluated (``iam.decide``) for the service-linked role of the source account and for each target
account; explicit Denies are IBP206's alone, so IBP201/IBP202 report only what no statement allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..estate import Estate, Wire
from ..findings import Finding, Severity
from ..iam import (
    SLR_ACTIONS,
    SLR_PATH,
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
from ..sharing import Recipient, entry_inputs, view_entry, views_of, wire_inputs
from ..values import Assumption, Text, Value, World, holds, literal_text, members, select
from ..verdicts import Undecided, Verdict, Violated, judge
from . import emits

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# What a target account needs on a key to copy or launch the image (RULES.md, IBP202).
CORE_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant")
TARGET_ACTIONS = (*CORE_ACTIONS, "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKeyWithoutPlaintext")
SUGGESTED_TARGET_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*", "kms:GenerateDataKey*"]


# --- where keys are used ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A place a key may be named: a recipe volume (and the distributions wired to it) or an entry."""

    value: Value
    condition: Assumption
    inputs: tuple
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
            inputs = (recipe.condition, volume.condition, volume.kms_key_id, *wire_inputs(wires))
            note(
                volume.kms_key_id,
                Site(volume.kms_key_id, recipe.condition | volume.condition, inputs, recipe=recipe, wires=wires),
            )
    for configuration in estate.all(DistributionConfiguration):
        for entry in configuration.entries:
            inputs = tuple(entry_inputs(configuration, entry))
            site = Site(
                entry.kms_key_id, configuration.condition | entry.condition, inputs, configuration=configuration, entry=entry
            )
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
                found.append(KeyUse(key, identity, source, view.configuration.name, others, site.entry is not None))
    return found


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


def _checked_keys(estate: Estate) -> Iterator[tuple[KmsKey, list[Site], list]]:
    sites_by_key = _sites_by_key(estate)
    for key in estate.all(KmsKey):
        sites = sites_by_key.get(key.key)
        if sites:
            inputs = [key.condition, key.policy, *[item for site in sites for item in site.inputs]]
            yield key, sites, inputs


def _grants_for(key: KmsKey, estate: Estate, world: World) -> list[KmsGrant]:
    found = []
    for grant in estate.all(KmsGrant):
        if not holds(grant.condition, world):
            continue
        target = estate.referenced(select(grant.key_reference, world))
        if target is key:
            found.append(grant)
    return found


def _granted_to_slr(grants: list[KmsGrant], world: World) -> set[str]:
    """Operations that grants give the service-linked role (``aws_kms_grant``)."""
    granted: set[str] = set()
    for grant in grants:
        grantee = select(grant.grantee, world)
        shown = grantee.shown() if isinstance(grantee, Text) else ""
        if shown.endswith(SLR_PATH):
            granted.update(f"kms:{literal_text(op)}" for _, op in members(select(grant.operations, world)) if literal_text(op))
    return granted


# --- IBP201: the service-linked role -----------------------------------------------------------------------


@emits("IBP201")
def service_linked_role_shut_out(estate: Estate) -> Iterator[Finding]:
    for key, sites, inputs in _checked_keys(estate):

        def decide_world(world: World):
            uses = [use for use in _uses(key, sites, world, estate) if _source_owned(key, use)]
            if not uses or key.policy is None:
                return None  # the default policy's root statement delegates to IAM
            policy = _key_policy(key, world)
            if policy.unknown:
                return None
            source = uses[0].source
            caller = _service_linked_role(source, uses)
            granted = _granted_to_slr(_grants_for(key, estate, world), world)
            decisions = {action: decide(policy, caller, action) for action in SLR_ACTIONS if action not in granted}
            missing = [a for a, d in decisions.items() if d.answer is Answer.NOT_ALLOWED]
            unsure = [a for a, d in decisions.items() if d.answer is Answer.CANNOT_TELL]
            shares = any(not recipient.copies for use in uses for recipient in use.recipients)
            if missing:
                return Violated((missing, source, shares, _narrow_root_statement(policy, caller), policy))
            if unsure:
                reason = next(r for a in unsure for r in decisions[a].reasons)
                return Undecided((unsure, reason, policy))
            return None

        verdict = judge(inputs, decide_world)
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
    root = Caller(slr.account, "the source account", other_than=slr.other_than)
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
    for key, sites, inputs in _checked_keys(estate):
        accounts = sorted(
            {
                recipient.account
                for world in _some_worlds(inputs)
                for use in _uses(key, sites, world, estate)
                for recipient in use.recipients
                if recipient.account is not None
            }
        )
        for account in accounts:
            yield from _target_account_finding(key, sites, inputs, account, estate)


def _service_linked_role(source: Account, uses: list[KeyUse]) -> Caller:
    """The Image Builder service-linked role of the source account, which is none of the target accounts."""
    targets = frozenset(r.account for use in uses for r in use.recipients if r.account is not None)
    return Caller(source, "the Image Builder service-linked role", role=SLR_PATH, other_than=targets)


def _target_caller(account: str, uses: list[KeyUse]) -> Caller:
    """Any principal of a target account, which is not the source account (it receives the image)."""
    return Caller(account, f"account {account}", other_than=frozenset(use.source for use in uses))


def _some_worlds(inputs: list) -> list[dict[str, str]]:
    from ..values import decisions_in, worlds

    return worlds(decisions_in(*inputs))


def _target_account_finding(key: KmsKey, sites: list[Site], inputs: list, account: str, estate: Estate) -> Iterator[Finding]:
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
        core_missing = [a for a in CORE_ACTIONS if a in missing]
        severity = None
        if copies and len(core_missing) == len(CORE_ACTIONS):
            severity = ERROR
        elif copies and missing:
            severity = WARNING
        if shares and core_missing:
            severity = severity or WARNING
        if severity is not None:
            return Violated((severity, missing, copies, shares, policy, uses[0].source_name))
        if unsure and not allowed >= set(CORE_ACTIONS):
            return Undecided(unsure[0].reasons[0] if unsure[0].reasons else "a statement cannot be decided")
        return None

    verdict: Verdict = judge(inputs, decide_world)
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
            f"account {account} is allowed {', '.join(CORE_ACTIONS)}.",
            _policy_span(key),
            key.name,
        )


@emits("IBP203")
def source_account_shut_out(estate: Estate) -> Iterator[Finding]:
    """A distribution key owned by the target account must admit the source account."""
    for key, sites, inputs in _checked_keys(estate):

        def decide_world(world: World):
            for use in _uses(key, sites, world, estate):
                owners = [r for r in use.recipients if r.account is not None and _owned_by(key, r.account) is Tri.YES]
                if not use.distribution_key or not owners:
                    continue
                policy = _key_policy(key, world)
                if policy.unknown:
                    return None
                targets = frozenset(owner.account for owner in owners)
                caller = Caller(use.source, "the source account", other_than=targets)
                decisions = [decide(policy, caller, action) for action in SLR_ACTIONS]
                if all(d.answer is Answer.NOT_ALLOWED for d in decisions):
                    return Violated((owners[0].account, use.source))
            return None

        verdict = judge(inputs, decide_world)
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
    reported: set[tuple] = set()
    for key, sites, inputs in _checked_keys(estate):

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

        verdict = judge(inputs, decide_world)
        for _, found in verdict.violated:
            by_statement: dict = {}
            for statement, caller, action in found:
                by_statement.setdefault((statement.span, caller.description), (statement, []))[1].append(action)
            for (span, who), (statement, actions) in by_statement.items():
                if (key.key, span, who) in reported:
                    continue
                reported.add((key.key, span, who))
                severity = (WARNING if statement.conditioned else ERROR) if verdict.certain else WARNING
                yield Finding(
                    "IBP206",
                    severity,
                    f"A Deny statement in the key policy of {key.name} blocks {who} from {', '.join(sorted(set(actions)))}"
                    f"{' under its condition' if statement.conditioned else ''}{verdict.condition()}: an explicit Deny wins "
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
                needed.append((_target_caller(recipient.account, [use]), CORE_ACTIONS))
    unique: dict[str, tuple[Caller, tuple[str, ...]]] = {}
    for caller, actions in needed:
        unique.setdefault(caller.description, (caller, actions))
    return list(unique.values())


CHECKS = [service_linked_role_shut_out, target_account_shut_out, source_account_shut_out, deny_blocks_distribution]
