"""IBP3xx, IBP204 and IBP903: the destination role in each account an image is copied to.

RULES.md section 3, "IBP3xx — the destination role". To copy an AMI into account T, the Image
Builder service-linked role of the source account assumes ``EC2ImageBuilderDistributionCrossAccountRole``
in T. These rules read T's role only when the scanned sources include what is deployed to T (the
configuration's accounts map, a Terraform provider that assumes a role in T, a StackSet targeting T);
otherwise one IBP903 info per account says what T must contain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..estate import Estate
from ..findings import Finding, Severity
from ..iam import (
    DISTRIBUTION_POLICY,
    NOT_PRESENTED_BY_SERVICES,
    SLR_PATH,
    TARGET_CORE_ACTIONS,
    XROLE_NAME,
    Account,
    Answer,
    Caller,
    Policy,
    Statement,
    aws_managed_policy,
    aws_managed_policy_name,
    combined,
    decide,
    read_policy,
    root_arn,
    statement_json,
)
from ..kms import KeyIdentity, KeyKind, identify_key
from ..model import DistributionConfiguration, DistributionEntry, Role
from ..sharing import EntryView, Recipient, view_entry
from ..values import Text, Unknown, Value, World, holds, is_absent, literal_text, members, select
from ..verdicts import Outcome, Undecided, Verdict, Violated, judge
from . import emits

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

EC2_ACTIONS = ("ec2:CreateTags", "ec2:DescribeImages", "ec2:CopyImage", "ec2:ModifyImageAttribute")
KMS_REST = (
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ListGrants",
    "kms:RevokeGrant",
)
LAUNCH_TEMPLATE_ACTIONS = ("ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate", "ec2:DescribeLaunchTemplates")

# Regions enabled by default in the aws partition (RULES.md, IBP307); any other is opt-in.
DEFAULT_REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
        "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
        "ap-southeast-2", "ap-south-1", "sa-east-1",
    }
)  # fmt: skip


# --- who the images go to --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An account a distribution entry gives the image to, as found in some branch of the sources."""

    account: str
    recipient: Recipient  # where the entry names the account, in the first world that has it
    view: EntryView  # the entry as it is in that world

    @property
    def source(self) -> Account:
        return self.view.source.account_reference()

    def copying(self, world: World) -> EntryView | None:
        """The entry as it is in this world, when it copies the image to the account there."""
        view = view_entry(self.view.entry, self.view.configuration, world)
        if view is None or not any(r.account == self.account for r in view.others(copies=True)):
            return None
        return view


@dataclass(frozen=True)
class Destination:
    """A visible account that entries copy images into from one source account, and those entries."""

    account: str
    source: Account
    targets: tuple[Target, ...]

    def copying(self, world: World) -> list[EntryView]:
        """The entries, as they are in this world, that copy the image to the account there."""
        return [view for target in self.targets if (view := target.copying(world)) is not None]


def _entries(estate: Estate) -> list[Verdict]:
    """For every distribution entry, the worlds it exists in, each with the entry as it is there."""
    verdicts: list[Verdict] = []
    for configuration in estate.all(DistributionConfiguration):
        for entry in configuration.entries:

            def decide(world: World):
                view = view_entry(entry, configuration, world)
                return Violated(view) if view is not None else None

            verdicts.append(judge(decide))
    return verdicts


def _targets(entries: list[Verdict], copies_only: bool = True) -> list[Target]:
    found: list[Target] = []
    for entry in entries:
        first: dict[str, tuple[Recipient, EntryView]] = {}
        for _, view in entry.violated:
            for recipient in view.others():
                if recipient.account is not None and (recipient.copies or not copies_only):
                    first.setdefault(recipient.account, (recipient, view))
        found.extend(Target(account, recipient, view) for account, (recipient, view) in first.items())
    return sorted(found, key=lambda t: (t.recipient.value.span, t.account))


def _destinations(estate: Estate) -> list[Destination]:
    """The visible accounts images are copied into, once per source account."""
    grouped: dict[tuple[str, Account], list[Target]] = {}
    for target in _targets(_entries(estate)):
        if target.account in estate.visible_accounts:
            grouped.setdefault((target.account, target.source), []).append(target)
    return [Destination(account, source, tuple(targets)) for (account, source), targets in grouped.items()]


def _unresolved_targets(entries: list[Verdict]) -> list[tuple[Recipient, EntryView]]:
    """Copy targets whose account the sources do not give (a variable without default, a remote lookup)."""
    found: dict[tuple, tuple[Recipient, EntryView]] = {}
    for entry in entries:
        for _, view in entry.violated:
            for recipient in view.undetermined():
                if recipient.copies:
                    found.setdefault((recipient.value.span, recipient.reason), (recipient, view))
    return [found[key] for key in sorted(found)]


def _needs(estate: Estate, view: EntryView, account: str, source: Account) -> str:
    """What an account receiving copies must contain, as one sentence part."""
    needs = [
        f"a role named {XROLE_NAME} (path /) that trusts {_show(source)} (sts:AssumeRole)",
        f"the managed policy {DISTRIBUTION_POLICY} attached to it",
    ]
    keys = _encryption_keys(estate, [view])
    if keys:
        names = _key_names(keys)
        needs.append(f"an IAM policy on it allowing {', '.join(TARGET_CORE_ACTIONS)} and the rest of the KMS actions on {names}")
        needs.append(f"{names} shared with {account} in its key policy")
    return "; ".join(needs)


def _encryption_keys(estate: Estate, views: list[EntryView], world: World | None = None) -> list[KeyIdentity]:
    """Customer managed keys the distributed image is encrypted with (entry keys, wired recipe volume keys):
    in every branch of the recipes, or as they are in ``world``."""
    keys: list[KeyIdentity] = []
    candidates: list[Value | None] = [view.kms_key_id for view in views]
    for wire in (wire for view in views for wire in estate.wires_to(view.configuration)):
        for volume in wire.recipe.volumes:
            if world is None:
                candidates.extend(key for _, key in members(volume.kms_key_id))
            elif holds(wire.condition | wire.recipe.condition | volume.condition, world):
                candidates.append(select(volume.kms_key_id, world))
    for value in candidates:
        identity = identify_key(value, estate) if value is not None else None
        if isinstance(identity, KeyIdentity) and identity.kind is KeyKind.CUSTOMER and identity not in keys:
            keys.append(identity)
    return keys


# --- the roles of an account, as they are in one world ------------------------------------------------------


def _is_xrole(role: Role, world: World) -> bool | None:
    """Whether the role exists in this world, named exactly XROLE with path / (an absent path is /): None when it
    is named XROLE and its path is a value the sources do not give (IBP302 asks to verify it)."""
    if not holds(role.condition, world) or literal_text(select(role.role_name, world)) != XROLE_NAME:
        return False
    path = _path(role, world)
    return None if path is None else path == "/"


def _path(role: Role, world: World) -> str | None:
    """The role's path in this world: / when absent, None when the sources do not give it."""
    path = select(role.path, world)
    return "/" if is_absent(path) else literal_text(path)


def _managed_names(estate: Estate, role: Role, world: World) -> list[str]:
    arns = estate.role_permissions(role, world).managed_arns
    return [name for arn in arns if (name := aws_managed_policy_name(arn))]


def _identity_policy(estate: Estate, role: Role, world: World) -> Policy:
    """Everything the role's attached policies say, with unknown attachments making it 'cannot tell'."""
    permissions = estate.role_permissions(role, world)
    policies = [read_policy(document, document.span) for document in permissions.documents]
    for arn in permissions.managed_arns:
        name = aws_managed_policy_name(arn)
        known = aws_managed_policy(name, arn.span) if name else None
        if known is not None:
            policies.append(known)
        elif name is not None:
            why = f"the AWS managed policy {name} is attached, whose document ibpolicy-lint does not know"
            policies.append(Policy(arn.span, unknown=why))
        else:
            shown = arn.shown() if isinstance(arn, Text) else getattr(arn, "reason", "a managed policy")
            policies.append(Policy(arn.span, unknown=f"the attached policy {shown} is not in the scanned sources"))
    return combined(policies, role.span)


def _trust_admits(role: Role, world: World, source: Account, targets: frozenset) -> tuple[Answer, Statement | None, str]:
    """Whether the role's trust policy lets the source account's service-linked role assume it."""
    policy = read_policy(select(role.trust_policy, world), role.trust_policy.span if role.trust_policy else role.span)
    slr = Caller(source, "the Image Builder service-linked role", role=SLR_PATH, other_than=targets)
    decision = decide(policy, slr, "sts:AssumeRole", key_policy=False)
    if decision.answer is Answer.DENIED:
        return decision.answer, decision.denying[0], ""
    if decision.answer is Answer.ALLOWED:
        return decision.answer, None, ""
    if decision.answer is Answer.CANNOT_TELL:
        return decision.answer, None, decision.reasons[0] if decision.reasons else "a statement cannot be decided"
    relaxed = Policy(policy.span, tuple(_without_service_conditions(s) for s in policy.statements), policy.unknown)
    relaxed_decision = decide(relaxed, slr, "sts:AssumeRole", key_policy=False)
    if relaxed_decision.answer is Answer.ALLOWED:
        statement = next(s for s in policy.statements if any(t.key.lower() in NOT_PRESENTED_BY_SERVICES for t in s.conditions))
        return Answer.CANNOT_TELL, statement, "service-condition"
    return Answer.NOT_ALLOWED, _assume_statement(policy), ""


def _without_service_conditions(statement: Statement) -> Statement:
    kept = tuple(test for test in statement.conditions if test.key.lower() not in NOT_PRESENTED_BY_SERVICES)
    return Statement(
        statement.span, statement.effect, statement.actions, statement.not_actions, statement.principals,
        statement.not_principals, statement.has_resource, kept, statement.sid, statement.unknown,
    )  # fmt: skip


def _assume_statement(policy: Policy) -> Statement | None:
    """The Allow statement for sts:AssumeRole that should admit the source account."""
    for statement in policy.statements:
        if statement.effect == "Allow" and any(a.lower() in ("sts:assumerole", "sts:*", "*") for a in statement.actions or ()):
            return statement
    return None


def _meant_for_distribution(estate: Estate, role: Role, destination: Destination, world: World) -> bool:
    """A role evidently made for Image Builder distribution: the managed policy, or trust in the source plus image actions."""
    if DISTRIBUTION_POLICY in _managed_names(estate, role, world):
        return True
    trusted, _, _ = _trust_admits(role, world, destination.source, frozenset({destination.account}))
    if trusted is not Answer.ALLOWED:
        return False
    copier = Caller(None, "the role")
    return decide(_identity_policy(estate, role, world), copier, "ec2:CopyImage", key_policy=False).answer is Answer.ALLOWED


def _judge_xrole(destination: Destination, role: Role, check: Callable[[list[EntryView], World], Outcome]) -> Verdict:
    """``check`` in the worlds where the account receives copies and ``role`` is its distribution role there."""

    def decide_world(world: World) -> Outcome:
        views = destination.copying(world)
        # A role whose path the sources do not give is not judged as the distribution role: IBP302 asks to verify it.
        return check(views, world) if views and _is_xrole(role, world) else None

    return judge(decide_world)


# --- the checks -------------------------------------------------------------------------------------------


@emits("IBP903")
def target_account_not_scanned(estate: Estate) -> Iterator[Finding]:
    entries = _entries(estate)
    by_account: dict[str, list[Target]] = {}
    for target in _targets(entries):
        by_account.setdefault(target.account, []).append(target)
    for account, targets in by_account.items():
        # One finding per account, over every entry that copies there: in which branches is the copy
        # made while the account's sources are not in the scan?
        def decide(world: World) -> Outcome:
            copied = any(target.copying(world) is not None for target in targets)
            return Violated(None) if copied and not estate.visible_in(account, world) else None

        verdict = judge(decide)
        if not verdict.violated:
            continue
        target = targets[0]
        yield Finding(
            "IBP903",
            INFO,
            f"{target.view.configuration.name} copies the image to account {account}, whose sources are not in the "
            f"scan{verdict.condition()}: verify that account {account} has "
            f"{_needs(estate, target.view, f'account {account}', target.source)}.",
            target.recipient.value.span,
            target.view.configuration.name,
        )
    for recipient, view in _unresolved_targets(entries):
        origin = f" (from {recipient.value.origin})" if recipient.value.origin else ""
        yield Finding(
            "IBP903",
            INFO,
            f"{view.configuration.name} copies the image to an account the sources do not give ({recipient.reason}){origin}: "
            f"verify that it has {_needs(estate, view, 'that account', view.source.account_reference())}.",
            recipient.value.span,
            view.configuration.name,
        )


@emits("IBP301", "IBP302")
def destination_role_missing_or_misnamed(estate: Estate) -> Iterator[Finding]:
    misnamed_reported: set[str] = set()
    for destination in _destinations(estate):
        roles = estate.roles_in(destination.account)
        for role in roles:
            if role.key not in misnamed_reported:
                finding = _misnamed(estate, role, roles, destination)
                if finding is not None:
                    misnamed_reported.add(role.key)
                    yield finding
        for target in destination.targets:
            yield from _missing(estate, roles, target, destination)


def _missing(estate: Estate, roles: list[Role], target: Target, destination: Destination) -> Iterator[Finding]:
    """IBP301: in the worlds where the entry copies the image to the account, no role there is (or is meant as) XROLE."""

    def decide_world(world: World) -> Outcome:
        if target.copying(world) is None or not estate.visible_in(target.account, world):
            return None  # not copied there, or the account's sources are not in the scan in this branch (IBP903)
        if any(_is_xrole(role, world) is not False for role in roles):
            return None  # a role named XROLE whose path the sources do not give: IBP302 asks to verify the path
        present = [role for role in roles if holds(role.condition, world)]
        if any(_meant_for_distribution(estate, role, destination, world) for role in present):
            return None  # IBP302 reports it
        unknown = [
            role
            for role in present
            if role.role_name is not None and literal_text(select(role.role_name, world)) is None and role.name_prefix is None
        ]
        return Undecided(unknown) if unknown else Violated(None)

    verdict = judge(decide_world)
    configuration = target.view.configuration.name
    if verdict.violated:
        yield Finding(
            "IBP301",
            verdict.severity(ERROR),
            f"{configuration} copies the image to account {target.account}{verdict.condition()}, but the sources deployed "
            f"to that account define no role named {XROLE_NAME}: Image Builder cannot assume it to copy the image.",
            target.recipient.value.span,
            configuration,
            fix=f"Create a role named {XROLE_NAME} (path /) in account {target.account} that trusts {root_arn(target.source)}, "
            f"with {DISTRIBUTION_POLICY} attached.",
        )
    elif verdict.undecided:
        unknown = list(dict.fromkeys(role.name for _, roles_unknown in verdict.undecided for role in roles_unknown))
        which = unknown[0] if len(unknown) == 1 else f"one of {', '.join(unknown)}"
        yield Finding(
            "IBP301",
            INFO,
            f"{configuration} copies the image to account {target.account}, and no role of the sources deployed to that "
            f"account is certainly named {XROLE_NAME}: the sources do not give the name of {', '.join(unknown)}. Verify "
            f"that {which} is named exactly {XROLE_NAME} with path / when deployed.",
            target.recipient.value.span,
            configuration,
            fix=f"Verify that {which} gets the name {XROLE_NAME} (path /) when deployed and trusts "
            f"{root_arn(target.source)}; if not, create that role in account {target.account}.",
        )


def _misnamed(estate: Estate, role: Role, roles: list[Role], destination: Destination) -> Finding | None:
    """IBP302: a role evidently meant for distribution that is not named (or placed) as Image Builder needs."""

    def decide_world(world: World) -> Outcome:
        if not holds(role.condition, world) or not destination.copying(world):
            return None
        name, path = select(role.role_name, world), select(role.path, world)
        if literal_text(name) == XROLE_NAME and not is_absent(path) and literal_text(path) is None:
            return Undecided((path, "path", "/"))
        if any(_is_xrole(other, world) is not False for other in roles):
            return None
        if not _meant_for_distribution(estate, role, destination, world):
            return None
        return _name_problem(role, name, path)

    verdict = judge(decide_world)
    if verdict.violated:
        severity, worst = verdict.worst(lambda problem: problem[2])
        problem, at, _ = worst.first()
        return Finding(
            "IBP302",
            severity,
            f"{role.name} is evidently the image distribution role of account {role.deployment.account}, but it {problem}"
            f"{worst.condition()}: Image Builder only assumes a role named exactly {XROLE_NAME} with path /.",
            at.span if at is not None else role.span,
            role.name,
        )
    if verdict.undecided:
        value, what, needed = verdict.undecided[0][1]
        return _unsure_name(role, value, what, needed)
    return None


def _name_problem(role: Role, name: Value | None, path: Value | None) -> Outcome:
    """What is wrong with a distribution role's name or path as they are in one world."""
    literal = literal_text(name)
    shown_path = "/" if is_absent(path) else literal_text(path)
    if is_absent(name) and role.name_prefix is not None:
        return Violated(("has a generated name", role.name_prefix, ERROR))
    if is_absent(name):
        return Violated(("has no name of its own (one is generated at deploy)", None, ERROR))
    if literal is None:
        return Undecided((name, "name", XROLE_NAME))
    if literal.lower() == XROLE_NAME.lower() and literal != XROLE_NAME and shown_path == "/":
        return Violated((f"is named {literal}, which differs from {XROLE_NAME} only in case", name, WARNING))
    if literal.lower() == XROLE_NAME.lower() and literal != XROLE_NAME and shown_path is None:
        return Violated((f"is named {literal}, not {XROLE_NAME} (and the sources do not give its path)", name, WARNING))
    if literal == XROLE_NAME:
        return Violated((f"has the path {shown_path}, not /", path, ERROR))
    return Violated((f"is named {literal}", name, ERROR))


def _unsure_name(role: Role, value: Value, what: str, needed: str) -> Finding:
    """IBP302 info: the distribution role's name or path is a value the sources do not give."""
    given = f"a value the sources do not give ({value.reason})" if isinstance(value, Unknown) else _shown_value(value)
    origin = f" (from {value.origin})" if value.origin else ""
    return Finding(
        "IBP302",
        INFO,
        f"{role.name} is evidently the image distribution role of account {role.deployment.account}, and its {what} is "
        f"{given}{origin}: verify that it is {needed}, as Image Builder only assumes a role named exactly {XROLE_NAME} "
        "with path /.",
        value.span,
        role.name,
    )


def _shown_value(value: Value) -> str:
    return value.shown() if isinstance(value, Text) else "a value the sources do not give"


@emits("IBP303", "IBP304", "IBP204", "IBP206")
def destination_role_wrong(estate: Estate) -> Iterator[Finding]:
    reported: set[tuple] = set()
    for destination in _destinations(estate):
        for role in estate.roles_in(destination.account):
            for finding in _role_findings(estate, role, destination):
                identity = (finding.rule, finding.span, finding.message)
                if identity not in reported:
                    reported.add(identity)
                    yield finding


def _role_findings(estate: Estate, role: Role, destination: Destination) -> Iterator[Finding]:
    yield from _trust_finding(role, destination)
    yield from _image_actions_finding(estate, role, destination)
    yield from _key_actions_finding(estate, role, destination)
    yield from _deny_findings(estate, role, destination)


def _trust_finding(role: Role, destination: Destination) -> Iterator[Finding]:
    """IBP303: the trust policy must let the source account's service-linked role assume the role."""
    source = destination.source
    trust_span = role.trust_policy.span if role.trust_policy is not None else role.span

    def check(views: list[EntryView], world: World) -> Outcome:
        answer, statement, reason = _trust_admits(role, world, source, frozenset({destination.account}))
        if answer is Answer.DENIED and statement is not None:
            return Violated((ERROR, f"A Deny in the trust policy of {role.name} stops the source account from assuming it",
                             statement.span, ""))  # fmt: skip
        if answer is Answer.NOT_ALLOWED:
            admitted = _admitted(statement)
            return Violated((
                ERROR,
                f"The trust policy of {role.name} does not let the source account {_show(source)} assume it"
                f"{'; it admits only ' + admitted if admitted else ''}",
                statement.span if statement is not None else trust_span,
                "",
            ))  # fmt: skip
        if answer is Answer.CANNOT_TELL and reason == "service-condition" and statement is not None:
            return Violated((
                WARNING,
                f"The trust policy of {role.name} admits the source account only with an external ID or MFA condition, "
                "which the Image Builder service does not present",
                statement.span,
                "Remove the sts:ExternalId / MFA condition from the statement that admits the source account.",
            ))  # fmt: skip
        if answer is Answer.CANNOT_TELL:
            return Undecided(reason)
        return None

    verdict = _judge_xrole(destination, role, check)
    if verdict.violated:
        severity, worst = verdict.worst(lambda detail: detail[0])
        _, message, span, fix = worst.first()
        trust_fix = f"Trust the source account: Principal {{AWS: {root_arn(source)}}}, Action sts:AssumeRole."
        yield Finding("IBP303", severity, f"{message}{worst.condition()}.", span, role.name, fix=fix or trust_fix)
    elif verdict.undecided:
        reason = verdict.undecided[0][1]
        yield Finding("IBP303", INFO, f"Cannot tell whether the trust policy of {role.name} admits the source account: {reason}.",
                      trust_span, role.name)  # fmt: skip


def _copier(role: Role, destination: Destination, views: list[EntryView]) -> Caller:
    """The role as it calls EC2 and KMS to copy the image (in the Region of the copy, when there is one)."""
    regions = {view.region for view in views}
    region = regions.pop() if len(regions) == 1 else None
    return Caller(destination.account, role.name, region=region if isinstance(region, str) else None)


def _image_actions_finding(estate: Estate, role: Role, destination: Destination) -> Iterator[Finding]:
    """IBP304: the role needs the managed policy or the EC2 actions it grants."""

    def check(views: list[EntryView], world: World) -> Outcome:
        if DISTRIBUTION_POLICY in _managed_names(estate, role, world):
            return None
        policy = _identity_policy(estate, role, world)
        answers = {action: decide(policy, _copier(role, destination, views), action, key_policy=False) for action in EC2_ACTIONS}
        missing = [action for action, decision in answers.items() if decision.answer is Answer.NOT_ALLOWED]
        if missing:
            return Violated(missing)
        if any(decision.answer is Answer.CANNOT_TELL for decision in answers.values()):
            return Undecided(policy.unknown or "a statement cannot be decided")
        return None

    verdict = _judge_xrole(destination, role, check)
    if verdict.violated:
        yield Finding(
            "IBP304",
            verdict.severity(ERROR),
            f"{role.name} has neither {DISTRIBUTION_POLICY} attached nor the EC2 actions it grants{verdict.condition()}: "
            f"it cannot copy the image ({', '.join(verdict.first())} not allowed).",
            role.span,
            role.name,
        )
    elif verdict.undecided:
        why = verdict.undecided[0][1]
        yield Finding("IBP304", INFO, f"Cannot tell whether {role.name} may copy images: {why}.", role.span, role.name)


def _key_actions_finding(estate: Estate, role: Role, destination: Destination) -> Iterator[Finding]:
    """IBP204: for an image encrypted with a customer managed key, the role needs the KMS actions."""

    def check(views: list[EntryView], world: World) -> Outcome:
        keys = _encryption_keys(estate, views, world)
        if not keys:
            return None
        policy = _identity_policy(estate, role, world)
        copier = _copier(role, destination, views)
        answers = {action: decide(policy, copier, action, key_policy=False) for action in (*TARGET_CORE_ACTIONS, *KMS_REST)}
        missing = [action for action, decision in answers.items() if decision.answer is Answer.NOT_ALLOWED]
        if missing:
            core = any(action in TARGET_CORE_ACTIONS for action in missing)
            return Violated((ERROR if core else WARNING, missing, _key_names(keys)))
        if any(decision.answer is Answer.CANNOT_TELL for decision in answers.values()):
            return Undecided((_key_names(keys), policy.unknown or "a statement cannot be decided"))
        return None

    verdict = _judge_xrole(destination, role, check)
    actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
    if verdict.violated:
        severity, worst = verdict.worst(lambda detail: detail[0])
        _, missing, names = worst.first()
        yield Finding(
            "IBP204",
            severity,
            f"The image is encrypted with {names}, but the IAM policies of {role.name} do not allow "
            f"{', '.join(missing)}{worst.condition()}: {DISTRIBUTION_POLICY} grants no KMS action.",
            role.span,
            role.name,
            fix="Add an inline policy to the role: "
            + statement_json("UseTheImageKey", None, [*actions, "kms:ListGrants", "kms:RevokeGrant"]),
        )
    elif verdict.undecided:
        names, why = verdict.undecided[0][1]
        yield Finding("IBP204", INFO, f"Cannot tell whether {role.name} may use {names}: {why}.", role.span, role.name)


def _deny_findings(estate: Estate, role: Role, destination: Destination) -> Iterator[Finding]:
    """IBP206: a Deny in the role's policies that blocks an action the copy needs, one finding per statement."""

    def check(views: list[EntryView], world: World) -> Outcome:
        policy = _identity_policy(estate, role, world)
        copier = _copier(role, destination, views)
        needed = [*EC2_ACTIONS, *((*TARGET_CORE_ACTIONS, *KMS_REST) if _encryption_keys(estate, views, world) else ())]
        found = [
            (statement, action)
            for action in needed
            for statement in decide(policy, copier, action, key_policy=False).denying
        ]  # fmt: skip
        return Violated(found) if found else None

    groups = _judge_xrole(destination, role, check).split(lambda found: ((s.span, (s, a)) for s, a in found))
    for span, group in groups.items():
        statement = group.first()[0][0]
        actions = dict.fromkeys(action for _, blocked in group.violated for _, action in blocked)
        yield Finding(
            "IBP206",
            group.severity(WARNING if statement.conditioned else ERROR),
            f"A Deny statement in the policies of {role.name} blocks {', '.join(actions)}"
            f"{' under its condition' if statement.conditioned else ''}{group.condition()}: an explicit Deny wins over "
            "every Allow.",
            span,
            role.name,
            fix="Narrow the Deny so it does not cover the actions image distribution needs.",
        )


def _admitted(statement: Statement | None) -> str:
    if statement is None or not statement.principals:
        return ""
    return ", ".join(p.shown for p in statement.principals)


@emits("IBP305")
def launch_template_permissions(estate: Estate) -> Iterator[Finding]:
    for configuration in estate.all(DistributionConfiguration):
        for entry in configuration.entries:
            for value in entry.launch_template_accounts:

                def decide(world: World):
                    if not holds(configuration.condition | entry.condition, world):
                        return None
                    account = literal_text(select(value, world))
                    problem = _launch_template_problem(estate, configuration, entry, account, world) if account else None
                    return Violated((account, problem)) if problem else None

                verdict = judge(decide)
                if not verdict.violated:
                    continue
                account, problem = verdict.first()
                yield Finding(
                    "IBP305",
                    verdict.severity(WARNING),
                    f"{configuration.name} updates a launch template in account {account}, but {problem}{verdict.condition()}.",
                    value.span,
                    configuration.name,
                    fix=f"Allow {', '.join(LAUNCH_TEMPLATE_ACTIONS)} to {XROLE_NAME} in account {account}.",
                )


def _launch_template_problem(
    estate: Estate, configuration: DistributionConfiguration, entry: DistributionEntry, account: str, world: World
) -> str | None:
    """What stops the destination role of another account, visible in this world, from updating its launch templates."""
    if account == configuration.deployment.account or not estate.visible_in(account, world):
        return None
    roles = [role for role in estate.roles_in(account) if _is_xrole(role, world)]
    if not roles:
        view = view_entry(entry, configuration, world)
        copied = view is not None and any(r.account == account for r in view.others(copies=True))
        return None if copied else f"account {account} has no {XROLE_NAME}"  # IBP301 reports it for copies
    policy = _identity_policy(estate, roles[0], world)
    caller = Caller(account, roles[0].name)
    missing = [a for a in LAUNCH_TEMPLATE_ACTIONS if decide(policy, caller, a, key_policy=False).answer is Answer.NOT_ALLOWED]
    return f"{roles[0].name} does not allow {', '.join(missing)}" if missing else None


@emits("IBP307")
def opt_in_region(estate: Estate) -> Iterator[Finding]:
    for target in _targets(_entries(estate), copies_only=False):
        region = target.view.region
        partition = target.view.source.partition or "aws"
        if not isinstance(region, str) or partition != "aws" or region in DEFAULT_REGIONS:
            continue
        yield Finding(
            "IBP307",
            INFO,
            f"{target.view.configuration.name} gives the {region} image to account {target.account}: {region} is an opt-in "
            f"Region, so it must be enabled in account {target.account} and in the source account.",
            target.recipient.value.span,
            target.view.configuration.name,
        )


def _key_names(keys: list[KeyIdentity]) -> str:
    return " and ".join(dict.fromkeys(key.key.name if key.key is not None else key.shown for key in keys))


def _show(account: Account) -> str:
    return account if isinstance(account, str) else "the source account"


CHECKS = [
    target_account_not_scanned,
    destination_role_missing_or_misnamed,
    destination_role_wrong,
    launch_template_permissions,
    opt_in_region,
]
