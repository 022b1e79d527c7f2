"""IBP3xx, IBP204 and IBP903: the destination role in each account an image is copied to.

RULES.md section 3, "IBP3xx — the destination role". To copy an AMI into account T, the Image
Builder service-linked role of the source account assumes ``EC2ImageBuilderDistributionCrossAccountRole``
in T. These rules read T's role only when the scanned sources include what is deployed to T (the
configuration's accounts map, a Terraform provider that assumes a role in T, a StackSet targeting T);
otherwise one IBP903 info per account says what T must contain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..estate import Estate
from ..findings import Finding, Severity
from ..iam import (
    DISTRIBUTION_POLICY,
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
from ..model import DistributionConfiguration, Role
from ..sharing import EntryView, Recipient, view_entry
from ..values import Text, Unknown, Value, World, holds, literal_text, members, select
from ..verdicts import Verdict, Violated, judge
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
# Conditions the Image Builder service never satisfies when it assumes the role.
UNSATISFIED_BY_THE_SERVICE = ("sts:externalid", "aws:multifactorauthpresent", "aws:multifactorauthage")

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
    recipient: Recipient
    view: EntryView
    verdict: Verdict  # the worlds in which the entry gives the image to the account

    @property
    def source(self) -> Account:
        return self.view.source.account_reference()


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
        by_account: dict[str, Verdict] = {}
        for world, view in entry.violated:
            for recipient in view.others():
                if recipient.account is None or (copies_only and not recipient.copies):
                    continue
                account = by_account.setdefault(recipient.account, entry.part())
                if not account.violated or account.violated[-1][0] is not world:
                    account.violated.append((world, (recipient, view)))
        for account, verdict in by_account.items():
            recipient, view = verdict.first()
            found.append(Target(account, recipient, view, verdict))
    return sorted(found, key=lambda t: (t.recipient.value.span, t.account))


def _unresolved_targets(entries: list[Verdict]) -> list[tuple[Recipient, EntryView]]:
    """Copy targets whose account the sources do not give (a variable without default, a remote lookup)."""
    found: dict[tuple, tuple[Recipient, EntryView]] = {}
    for entry in entries:
        for _, view in entry.violated:
            for recipient in view.undetermined():
                if recipient.copies:
                    found.setdefault((recipient.value.span, recipient.reason), (recipient, view))
    return [found[key] for key in sorted(found, key=lambda k: (k[0], k[1]))]


def _needs(estate: Estate, view: EntryView, account: str, source: Account) -> str:
    """What an account receiving copies must contain, as one sentence part."""
    needs = [
        f"a role named {XROLE_NAME} (path /) that trusts {_show(source)} (sts:AssumeRole)",
        f"the managed policy {DISTRIBUTION_POLICY} attached to it",
    ]
    keys = _encryption_keys(estate, view)
    if keys:
        names = _key_names(keys)
        needs.append(f"an IAM policy on it allowing {', '.join(TARGET_CORE_ACTIONS)} and the rest of the KMS actions on {names}")
        needs.append(f"{names} shared with {account} in its key policy")
    return "; ".join(needs)


def _encryption_keys(estate: Estate, view: EntryView) -> list[KeyIdentity]:
    """Customer managed keys the distributed image is encrypted with (entry key, wired recipe volume keys)."""
    keys: list[KeyIdentity] = []
    candidates: list[Value | None] = [view.kms_key_id]
    for wire in estate.wires_to(view.configuration):
        candidates.extend(key for volume in wire.recipe.volumes for _, key in members(volume.kms_key_id))
    for value in candidates:
        identity = identify_key(value, estate) if value is not None else None
        if isinstance(identity, KeyIdentity) and identity.kind is KeyKind.CUSTOMER:
            keys.append(identity)
    return keys


# --- the roles of an account --------------------------------------------------------------------------------


def _name(role: Role) -> str | None:
    return literal_text(role.role_name)


def _is_xrole(role: Role) -> bool:
    path = literal_text(role.path) or "/"
    return _name(role) == XROLE_NAME and path == "/"


def _managed_names(estate: Estate, role: Role) -> list[str]:
    return [name for arn in estate.role_permissions(role).managed_arns if (name := aws_managed_policy_name(arn))]


def _identity_policy(estate: Estate, role: Role) -> Policy:
    """Everything the role's attached policies say, with unknown attachments making it 'cannot tell'."""
    permissions = estate.role_permissions(role)
    policies = [read_policy(document, document.span) for document in permissions.documents]
    for arn in permissions.managed_arns:
        name = aws_managed_policy_name(arn)
        known = aws_managed_policy(name, arn.span) if name else None
        if known is not None:
            policies.append(known)
        elif name is None:
            shown = arn.shown() if isinstance(arn, Text) else getattr(arn, "reason", "a managed policy")
            policies.append(Policy(arn.span, unknown=f"the attached policy {shown} is not in the scanned sources"))
    return combined(policies, role.span)


def _trust_admits(role: Role, source: Account, targets: frozenset) -> tuple[Answer, Statement | None, str]:
    """Whether the role's trust policy lets the source account's service-linked role assume it."""
    policy = read_policy(role.trust_policy, role.trust_policy.span if role.trust_policy else role.span)
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
        statement = next(s for s in policy.statements if any(t.key.lower() in UNSATISFIED_BY_THE_SERVICE for t in s.conditions))
        return Answer.CANNOT_TELL, statement, "service-condition"
    return Answer.NOT_ALLOWED, _assume_statement(policy), ""


def _without_service_conditions(statement: Statement) -> Statement:
    kept = tuple(test for test in statement.conditions if test.key.lower() not in UNSATISFIED_BY_THE_SERVICE)
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


def _meant_for_distribution(estate: Estate, role: Role, source: Account, targets: frozenset) -> bool:
    """A role evidently made for Image Builder distribution: the managed policy, or trust in the source plus image actions."""
    if DISTRIBUTION_POLICY in _managed_names(estate, role):
        return True
    trusted, _, _ = _trust_admits(role, source, targets)
    if trusted is not Answer.ALLOWED:
        return False
    copier = Caller(None, "the role")
    return decide(_identity_policy(estate, role), copier, "ec2:CopyImage", key_policy=False).answer is Answer.ALLOWED


# --- the checks -------------------------------------------------------------------------------------------


@emits("IBP903")
def target_account_not_scanned(estate: Estate) -> Iterator[Finding]:
    reported: set[str] = set()
    entries = _entries(estate)
    for target in _targets(entries):
        if target.account in estate.visible_accounts or target.account in reported:
            continue
        reported.add(target.account)
        yield Finding(
            "IBP903",
            INFO,
            f"{target.view.configuration.name} copies the image to account {target.account}, whose sources are not in the "
            f"scan: verify that account {target.account} has "
            f"{_needs(estate, target.view, f'account {target.account}', target.source)}.",
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
    for target in _targets(_entries(estate)):
        if target.account not in estate.visible_accounts:
            continue
        roles = estate.roles_in(target.account)
        targets = frozenset({target.account})
        xroles = [role for role in roles if _is_xrole(role)]
        for role in xroles:
            if role.key not in misnamed_reported and role.path is not None and literal_text(role.path) is None:
                misnamed_reported.add(role.key)
                yield _unsure_name(role, role.path, "path", "/")
        if xroles:
            continue
        misnamed = [role for role in roles if _meant_for_distribution(estate, role, target.source, targets)]
        for role in misnamed:
            if role.key not in misnamed_reported:
                misnamed_reported.add(role.key)
                yield _misnamed(role)
        if misnamed:
            continue
        unknown = [role for role in roles if role.role_name is not None and _name(role) is None and role.name_prefix is None]
        severity = target.verdict.severity(ERROR) if not unknown else INFO
        doubt = f" (cannot tell the names of {', '.join(r.name for r in unknown)})" if unknown else ""
        yield Finding(
            "IBP301",
            severity,
            f"{target.view.configuration.name} copies the image to account {target.account}{target.verdict.condition()}, "
            f"but the sources deployed to that account define no role named {XROLE_NAME}{doubt}: Image Builder cannot "
            "assume it to copy the image.",
            target.recipient.value.span,
            target.view.configuration.name,
            fix=f"Create a role named {XROLE_NAME} (path /) in account {target.account} that trusts {root_arn(target.source)}, "
            f"with {DISTRIBUTION_POLICY} attached.",
        )


def _misnamed(role: Role) -> Finding:
    name = _name(role)
    path = literal_text(role.path) or "/"
    if role.name_prefix is not None and role.role_name is None:
        problem, at, severity = "has a generated name (name_prefix)", role.name_prefix, ERROR
    elif role.role_name is None:
        problem, at, severity = "has no name of its own (CloudFormation generates one)", None, ERROR
    elif name is None:
        return _unsure_name(role, role.role_name, "name", XROLE_NAME)
    elif name.lower() == XROLE_NAME.lower() and name != XROLE_NAME and path == "/":
        problem, at, severity = f"is named {name}, which differs from {XROLE_NAME} only in case", role.role_name, WARNING
    elif name == XROLE_NAME:
        problem, at, severity = f"has the path {path}, not /", role.path, ERROR
    else:
        problem, at, severity = f"is named {name}", role.role_name, ERROR
    return Finding(
        "IBP302",
        severity,
        f"{role.name} is evidently the image distribution role of account {role.deployment.account}, but it {problem}: "
        f"Image Builder only assumes a role named exactly {XROLE_NAME} with path /.",
        at.span if at is not None else role.span,
        role.name,
    )


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
    for target in _targets(_entries(estate)):
        if target.account not in estate.visible_accounts:
            continue
        targets = frozenset({target.account})
        for role in (r for r in estate.roles_in(target.account) if _is_xrole(r)):
            for finding in _role_findings(estate, role, target, targets):
                identity = (finding.rule, finding.span, finding.message)
                if identity not in reported:
                    reported.add(identity)
                    yield finding


def _role_findings(estate: Estate, role: Role, target: Target, targets: frozenset) -> Iterator[Finding]:
    source = target.source
    answer, statement, reason = _trust_admits(role, source, targets)
    trust_span = role.trust_policy.span if role.trust_policy is not None else role.span
    trust_fix = f"Trust the source account: Principal {{AWS: {root_arn(source)}}}, Action sts:AssumeRole."
    if answer is Answer.DENIED and statement is not None:
        yield Finding("IBP303", ERROR, f"A Deny in the trust policy of {role.name} stops the source account from assuming it.",
                      statement.span, role.name, fix=trust_fix)  # fmt: skip
    elif answer is Answer.NOT_ALLOWED:
        admitted = _admitted(statement)
        yield Finding(
            "IBP303",
            ERROR,
            f"The trust policy of {role.name} does not let the source account {_show(source)} assume it"
            f"{' (it admits only ' + admitted + ')' if admitted else ''}.",
            statement.span if statement is not None else trust_span,
            role.name,
            fix=trust_fix,
        )
    elif answer is Answer.CANNOT_TELL and reason == "service-condition" and statement is not None:
        yield Finding(
            "IBP303",
            WARNING,
            f"The trust policy of {role.name} admits the source account only with an external ID or MFA condition, "
            "which the Image Builder service does not present.",
            statement.span,
            role.name,
            fix="Remove the sts:ExternalId / MFA condition from the statement that admits the source account.",
        )
    elif answer is Answer.CANNOT_TELL:
        yield Finding("IBP303", INFO, f"Cannot tell whether the trust policy of {role.name} admits the source account: {reason}.",
                      trust_span, role.name)  # fmt: skip

    policy = _identity_policy(estate, role)
    region = target.view.region if isinstance(target.view.region, str) else None
    copier = Caller(target.account, f"{role.name}", region=region)
    if DISTRIBUTION_POLICY not in _managed_names(estate, role):
        answers = {action: decide(policy, copier, action, key_policy=False) for action in EC2_ACTIONS}
        missing = [a for a, d in answers.items() if d.answer is Answer.NOT_ALLOWED]
        if missing:
            yield Finding(
                "IBP304",
                ERROR,
                f"{role.name} has neither {DISTRIBUTION_POLICY} attached nor the EC2 actions it grants ({', '.join(missing)} "
                "not allowed): it cannot copy the image.",
                role.span,
                role.name,
            )
        elif any(d.answer is Answer.CANNOT_TELL for d in answers.values()):
            why = policy.unknown or "a statement cannot be decided"
            yield Finding("IBP304", INFO, f"Cannot tell whether {role.name} may copy images: {why}.", role.span, role.name)
        yield from _denied("IBP206", role, answers)

    keys = _encryption_keys(estate, target.view)
    if not keys:
        return
    answers = {action: decide(policy, copier, action, key_policy=False) for action in (*TARGET_CORE_ACTIONS, *KMS_REST)}
    missing_core = [a for a in TARGET_CORE_ACTIONS if answers[a].answer is Answer.NOT_ALLOWED]
    missing_rest = [a for a in KMS_REST if answers[a].answer is Answer.NOT_ALLOWED]
    names = _key_names(keys)
    actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
    fix = "Add an inline policy to the role: " + statement_json(
        "UseTheImageKey", None, [*actions, "kms:ListGrants", "kms:RevokeGrant"]
    )
    if missing_core or missing_rest:
        severity = ERROR if missing_core else WARNING
        yield Finding(
            "IBP204",
            severity,
            f"The image is encrypted with {names}, but the IAM policies of {role.name} do not allow "
            f"{', '.join(missing_core + missing_rest)}: {DISTRIBUTION_POLICY} grants no KMS action.",
            role.span,
            role.name,
            fix=fix,
        )
    elif any(d.answer is Answer.CANNOT_TELL for d in answers.values()):
        why = policy.unknown or "a statement cannot be decided"
        yield Finding("IBP204", INFO, f"Cannot tell whether {role.name} may use {names}: {why}.", role.span, role.name)
    yield from _denied("IBP206", role, answers)


def _denied(rule: str, role: Role, answers: dict) -> Iterator[Finding]:
    by_statement: dict = {}
    for action, decision in answers.items():
        for statement in decision.denying:
            by_statement.setdefault(statement.span, []).append(action)
    for span, actions in by_statement.items():
        yield Finding(
            rule,
            ERROR,
            f"A Deny statement in the policies of {role.name} blocks {', '.join(actions)}: an explicit Deny wins over "
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
                    problem = _launch_template_problem(estate, configuration, account) if account else None
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


def _launch_template_problem(estate: Estate, configuration: DistributionConfiguration, account: str) -> str | None:
    """What stops the destination role of another, visible account from updating its launch templates."""
    if account == configuration.deployment.account or account not in estate.visible_accounts:
        return None
    roles = [role for role in estate.roles_in(account) if _is_xrole(role)]
    if not roles:
        return f"account {account} has no {XROLE_NAME}"
    policy = _identity_policy(estate, roles[0])
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
