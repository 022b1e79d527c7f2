"""Policy documents and their evaluation: does a policy let this caller do this action?

Documents come in every source form (an object, a JSON string, a Terraform policy document data
source) and are normalised into statements whose parts keep their spans and may be unknown.
Evaluation follows AWS's rules as far as the sources allow: actions are case-insensitive globs,
``NotAction`` inverts, an applicable explicit Deny wins over any Allow, a key-policy statement
without ``Resource`` applies to nothing, and a condition that cannot be decided makes the answer
"cannot tell" rather than a guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from .documents import DocumentError, json_value
from .source import Span
from .values import (
    AccountOf,
    Choice,
    ListValue,
    MapValue,
    Symbol,
    Text,
    Unknown,
    Value,
    as_bool,
    literal_text,
    moved,
    symbol_at,
)

SLR_PATH = "role/aws-service-role/imagebuilder.amazonaws.com/AWSServiceRoleForImageBuilder"
# What the Image Builder service-linked role does with a key (RULES.md section 1).
SLR_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
# What a target account needs at least on a key the image is encrypted with (IBP202, IBP204).
TARGET_CORE_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant")

Account = str | Symbol | None  # a literal account ID, the account of a deployment, or unknown


class Tri(Enum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"

    @staticmethod
    def of(flag: bool | None) -> Tri:
        return Tri.MAYBE if flag is None else Tri.YES if flag else Tri.NO

    def __and__(self, other: Tri) -> Tri:
        if Tri.NO in (self, other):
            return Tri.NO
        return Tri.MAYBE if Tri.MAYBE in (self, other) else Tri.YES

    def __or__(self, other: Tri) -> Tri:
        if Tri.YES in (self, other):
            return Tri.YES
        return Tri.MAYBE if Tri.MAYBE in (self, other) else Tri.NO

    def __invert__(self) -> Tri:
        return {Tri.YES: Tri.NO, Tri.NO: Tri.YES, Tri.MAYBE: Tri.MAYBE}[self]


# --- documents ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    kind: str  # "any", "account", "role", "user", "service", "non-aws", "other", "unknown"
    account: Account = None
    arn: str | None = None  # the ARN with symbols shown, for roles and users
    shown: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ConditionTest:
    operator: str  # as written: "StringEquals", "ForAnyValue:StringLike", "StringNotEqualsIfExists"
    key: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Statement:
    span: Span
    effect: str | None  # "Allow", "Deny", or None when not known
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    principals: tuple[Principal, ...] | None  # None: no Principal element
    not_principals: tuple[Principal, ...] | None
    has_resource: bool
    conditions: tuple[ConditionTest, ...]
    sid: str = ""
    unknown: str = ""  # why part of the statement is not known

    @property
    def conditioned(self) -> bool:
        return bool(self.conditions)


@dataclass(frozen=True)
class Policy:
    span: Span
    statements: tuple[Statement, ...] = ()
    unknown: str = ""  # why the whole document is not known
    default: bool = False  # the default key policy (no policy in the sources)


def default_key_policy(owner: Account, span: Span) -> Policy:
    """``Allow arn:aws:iam::<owner>:root kms:* on *``: what a key without a policy gets."""
    root = Principal("account", owner, shown=f"arn:aws:iam::{_show_account(owner)}:root")
    statement = Statement(span, "Allow", ("kms:*",), None, (root,), None, True, ())
    return Policy(span, (statement,), default=True)


def read_policy(value: Value | None, span: Span) -> Policy:
    """A policy document from an object, a JSON string (with interpolated symbols) or an unknown."""
    if value is None:
        return Policy(span, unknown="no policy document")
    if isinstance(value, Unknown):
        return Policy(value.span, unknown=value.reason)
    if isinstance(value, Choice):
        return Policy(value.span, unknown="the document differs between branches")
    if isinstance(value, Text):
        document = document_value(value)
        if isinstance(document, Unknown):
            return Policy(value.span, unknown=document.reason)
        value = document
    if not isinstance(value, MapValue):
        return Policy(value.span, unknown="not a policy document")
    raw = value.get("Statement")
    items = raw.items if isinstance(raw, ListValue) else (raw,) if raw is not None else ()
    statements = tuple(_statement(item) for item in items if isinstance(item, (MapValue, Unknown, Choice)))
    return Policy(value.span, statements)


def document_value(value: Text) -> Value:
    """A JSON policy string as a value tree, keeping interpolated symbols and positions.

    A multi-line string (a heredoc) starts on the line after its opening; its parts point at their
    own lines. A one-line string or a file read elsewhere points at the string. (CloudFormation
    reads its block scalars itself, where the file's indentation is known.)
    """
    try:
        document = json_value(value)
    except DocumentError as error:
        return Unknown(reason=f"the policy is not valid JSON ({error.reason})", span=value.span)
    if "\n" in value.shape()[0].strip() and not value.origin:
        return moved(document, value.span.line, 0)
    return moved(document, 0, 0, value.span)


def _statement(item: Value) -> Statement:
    if not isinstance(item, MapValue):
        return Statement(item.span, None, None, None, None, None, True, (), unknown="the statement is not known")
    unknown: list[str] = []
    effect = literal_text(item.get("Effect"))
    if effect not in ("Allow", "Deny"):
        unknown.append("its Effect")
        effect = None
    actions = _strings(item.get("Action"), unknown, "its Action")
    not_actions = _strings(item.get("NotAction"), unknown, "its NotAction")
    principals = _principals(item.get("Principal")) if "Principal" in item.entries else None
    not_principals = _principals(item.get("NotPrincipal")) if "NotPrincipal" in item.entries else None
    has_resource = "Resource" in item.entries or "NotResource" in item.entries
    return Statement(
        span=item.span,
        effect=effect,
        actions=actions,
        not_actions=not_actions,
        principals=principals,
        not_principals=not_principals,
        has_resource=has_resource,
        conditions=_conditions(item.get("Condition")),
        sid=literal_text(item.get("Sid")) or "",
        unknown=", ".join(unknown),
    )


def _strings(value: Value | None, unknown: list[str], what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value.items if isinstance(value, ListValue) else (value,)
    found: list[str] = []
    for item in items:
        literal = literal_text(item)
        if literal is None:
            unknown.append(what)
            continue
        found.append(literal)
    return tuple(found)


def _principals(value: Value | None) -> tuple[Principal, ...]:
    if value is None:
        return ()
    if literal_text(value) == "*":
        return (Principal("any", shown="*"),)
    if not isinstance(value, MapValue):
        return (Principal("unknown", shown="a principal", reason=getattr(value, "reason", "not known")),)
    found: list[Principal] = []
    for kind, identifiers in value.entries.items():
        items = identifiers.items if isinstance(identifiers, ListValue) else (identifiers,)
        for item in items:
            found.append(_principal(kind, item))
    return tuple(found)


_IAM_ARN = re.compile(r"^arn:[^:]*:(?:iam|sts)::(?P<account>[^:]*):(?P<resource>.*)$")


def _principal(kind: str, item: Value) -> Principal:
    if kind != "AWS":
        # A service, a web identity or SAML provider (Federated), an S3 canonical user: never an IAM caller.
        shown = literal_text(item) or (item.shown() if isinstance(item, Text) else "?")
        return Principal("service" if kind == "Service" else "non-aws", shown=shown)
    if isinstance(item, Unknown):
        return Principal("unknown", shown="a principal the sources do not give", reason=item.reason)
    if not isinstance(item, Text):
        return Principal("unknown", shown="?", reason="not a text")
    if item.literal == "*":
        return Principal("any", shown="*")
    symbol = item.symbol
    if isinstance(symbol, AccountOf):
        return Principal("account", symbol, shown=item.shown())
    shape, symbols = item.shape()
    if re.fullmatch(r"\d{12}", shape):
        return Principal("account", shape, shown=shape)
    match = _IAM_ARN.match(shape)
    if match is None:
        reason = item.opaque_reason() or f"{item.shown()} is not an account or IAM ARN"
        return Principal("unknown", shown=item.shown(), reason=reason)
    account = _account_of(match.group("account"), symbols)
    resource = match.group("resource")
    if resource == "root":
        return Principal("account", account, shown=item.shown())
    if "\x00" in resource:
        return Principal("unknown", account, shown=item.shown(), reason=f"{item.shown()} is computed")
    kind_of = "role" if resource.startswith(("role/", "assumed-role/")) else "user" if resource.startswith("user/") else "other"
    return Principal(kind_of, account, arn=resource, shown=item.shown())


def _account_of(segment: str, symbols: list[Symbol]) -> Account:
    if "\x00" not in segment:
        return segment or None
    symbol = symbol_at(segment, symbols)
    return symbol if isinstance(symbol, AccountOf) else None


def _conditions(value: Value | None) -> tuple[ConditionTest, ...]:
    if not isinstance(value, MapValue):
        return ()
    found: list[ConditionTest] = []
    for operator, tests in value.entries.items():
        if not isinstance(tests, MapValue):
            found.append(ConditionTest(operator, "?", ()))
            continue
        for key, values in tests.entries.items():
            items = values.items if isinstance(values, ListValue) else (values,)
            found.append(ConditionTest(operator, key, tuple(items)))
    return tuple(found)


# --- evaluation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who asks: a particular principal (the service-linked role), or any principal of an account."""

    account: Account
    description: str
    role: str | None = None  # the role's resource path, e.g. SLR_PATH; None: any principal of the account
    # Accounts the caller is known not to be: a target account is not the source account, even
    # when the sources give the target's ID but not the source's (RULES.md section 2).
    other_than: frozenset = frozenset()
    # The Region of the key use (kms:ViaService is ec2.<region>.amazonaws.com); None: not known.
    region: str | None = None

    def same_account(self, account: Account) -> Tri:
        if account is not None and account in self.other_than:
            return Tri.NO
        return same_account(self.account, account)


def same_account(first: Account, second: Account) -> Tri:
    """Whether two accounts are the same; a literal ID and a deployment whose ID is not given may be."""
    if first is None or second is None:
        return Tri.MAYBE
    if isinstance(first, str) and isinstance(second, str):
        return Tri.of(first == second)
    return Tri.YES if first == second else Tri.MAYBE


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.I)


def action_matches(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, ``*`` and ``?`` wildcards (``*`` alone is every action)."""
    return _glob(pattern.strip()).fullmatch(action) is not None


def _principal_matches(principal: Principal, caller: Caller) -> tuple[Tri, str]:
    if principal.kind == "any":
        return Tri.YES, ""
    if principal.kind == "account":
        return caller.same_account(principal.account), ""
    if principal.kind in ("role", "user", "other"):
        account = caller.same_account(principal.account)
        if caller.role is None:
            return account, ""  # a role of the account is a principal of the account
        if principal.arn is None:
            return Tri.NO, ""
        same = _normalise_role(principal.arn) == _normalise_role(caller.role)
        return account & Tri.of(same), ""
    if principal.kind in ("service", "non-aws"):
        return Tri.NO, ""
    return Tri.MAYBE, principal.reason or f"{principal.shown} cannot be resolved"


def _normalise_role(resource: str) -> str:
    # An assumed-role session of the role is the role; service-linked role paths compare exactly.
    if resource.startswith("assumed-role/"):
        return "role/" + resource.split("/")[1]
    return resource


# Condition keys a service never presents when it assumes a role (Image Builder's service-linked role included).
NOT_PRESENTED_BY_SERVICES = ("sts:externalid", "aws:multifactorauthpresent", "aws:multifactorauthage")
# Condition keys whose value for these calls is known (EBS operations made by EC2 on the caller's behalf).
_ACCOUNT_KEYS = ("kms:calleraccount", "aws:principalaccount")


def _condition_holds(test: ConditionTest, caller: Caller) -> tuple[Tri, str]:
    operator = test.operator.lower()
    key = test.key.lower()
    if_exists = operator.endswith("ifexists")
    base = operator.split(":")[-1].removesuffix("ifexists")
    negated = "not" in base
    values = [literal_text(v) for v in test.values]
    texts = [v for v in test.values if isinstance(v, Text)]

    def outcome(matched: Tri) -> tuple[Tri, str]:
        return (~matched if negated else matched), ""

    if key in _ACCOUNT_KEYS:
        results = [caller.same_account(_account_value(v)) for v in texts]
        if not results:
            return Tri.MAYBE, f"{test.key} with values the sources do not give"
        matched = Tri.NO
        for result in results:
            matched = matched | result
        return outcome(matched)
    if key == "aws:principalarn":
        if caller.role is None:
            return Tri.MAYBE, f"which principals of the account match {test.key}"
        full = f"arn:aws:iam::{_show_account(caller.account)}:{caller.role}"
        if None in values:
            return Tri.MAYBE, f"{test.key} with values the sources do not give"
        return outcome(Tri.of(any(_arn_like(value, full) for value in values)))
    if key == "kms:viaservice":
        if None in values:
            return Tri.MAYBE, f"{test.key} with values the sources do not give"
        matched = Tri.NO
        for value in values:
            matched = matched | _via_ec2(value, caller.region)
        if matched is Tri.MAYBE:
            return Tri.MAYBE, f"{test.key} names EC2 in a Region, and the sources do not say in which Region the key is used"
        return outcome(matched)
    if key == "kms:grantisforawsresource":
        flag = as_bool(test.values[0]) if test.values else None
        if flag is None:
            return Tri.MAYBE, f"{test.key} with a value the sources do not give"
        return Tri.of(flag is True), ""  # EBS grants are for AWS resources
    if key == "kms:encryptioncontextkeys":
        if None in values:
            return Tri.MAYBE, f"{test.key} with values the sources do not give"
        return outcome(Tri.of(any(_glob(value).fullmatch("aws:ebs:id") for value in values)))
    if if_exists and key.startswith("kms:encryptioncontext:"):
        return Tri.YES, ""
    if key in NOT_PRESENTED_BY_SERVICES and caller.role == SLR_PATH:
        # The service-linked role presents no external ID and no MFA: matching conditions fail,
        # negated ones ("not this external ID", "MFA is false") hold.
        if key == "sts:externalid":
            return (Tri.YES if negated else Tri.NO), ""
        expected = [value.lower() for value in values if value is not None]
        return Tri.of("false" in expected if base.startswith("bool") else False), ""
    return Tri.MAYBE, f"the condition {test.operator} {test.key} cannot be decided from the sources"


def _via_ec2(pattern: str, region: str | None) -> Tri:
    """Whether a kms:ViaService pattern matches EC2 in the Region of the call (EBS calls KMS through EC2)."""
    if region is not None:
        return Tri.of(_glob(pattern).fullmatch(f"ec2.{region}.amazonaws.com") is not None)
    if _glob(pattern).fullmatch("ec2.\x00.amazonaws.com") is not None:
        return Tri.YES  # a wildcard over the Region: every Region matches
    return Tri.MAYBE if re.fullmatch(r"ec2\.[^.]+\.amazonaws\.com", pattern.strip(), re.I) else Tri.NO


def _arn_like(pattern: str, arn: str) -> bool:
    return _glob(pattern).fullmatch(arn) is not None


def _account_value(value: Text) -> Account:
    if isinstance(value.symbol, AccountOf):
        return value.symbol
    literal = value.literal
    return literal.strip() if literal else None


@dataclass(frozen=True)
class Applies:
    """Whether one statement applies to one request, and why it cannot tell when it cannot."""

    statement: Statement
    applies: Tri
    reason: str = ""


def applies(statement: Statement, caller: Caller, action: str, key_policy: bool = True) -> Applies:
    if statement.unknown:
        return Applies(statement, Tri.MAYBE, f"{statement.unknown} is not known")
    if statement.effect is None:
        return Applies(statement, Tri.MAYBE, "its Effect is not known")
    if key_policy and not statement.has_resource:
        return Applies(statement, Tri.NO)  # a key-policy statement without Resource applies to nothing
    if statement.actions is not None and not any(action_matches(p, action) for p in statement.actions):
        return Applies(statement, Tri.NO)
    if statement.not_actions is not None and any(action_matches(p, action) for p in statement.not_actions):
        return Applies(statement, Tri.NO)
    if statement.actions is None and statement.not_actions is None:
        return Applies(statement, Tri.NO)
    reasons: list[str] = []
    principal = Tri.YES
    if statement.principals is not None:
        principal = Tri.NO
        for candidate in statement.principals:
            matched, reason = _principal_matches(candidate, caller)
            principal = principal | matched
            if matched is Tri.MAYBE and reason:
                reasons.append(reason)
    if statement.not_principals is not None:
        excluded = Tri.NO
        for candidate in statement.not_principals:
            matched, reason = _principal_matches(candidate, caller)
            excluded = excluded | matched
            if matched is Tri.MAYBE and reason:
                reasons.append(reason)
        principal = principal & ~excluded
    result = principal
    for test in statement.conditions:
        holds, reason = _condition_holds(test, caller)
        result = result & holds
        if holds is Tri.MAYBE and reason:
            reasons.append(reason)
    return Applies(statement, result, "; ".join(dict.fromkeys(reasons)))


class Answer(Enum):
    ALLOWED = "allowed"
    DENIED = "explicitly denied"
    NOT_ALLOWED = "not allowed"
    CANNOT_TELL = "cannot tell"


@dataclass(frozen=True)
class Decision:
    answer: Answer
    allowing: tuple[Statement, ...] = ()
    denying: tuple[Statement, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)


def decide(policy: Policy, caller: Caller, action: str, key_policy: bool = True) -> Decision:
    """What AWS would answer, as far as the sources tell: an applicable Deny wins over any Allow."""
    if policy.unknown:
        return Decision(Answer.CANNOT_TELL, reasons=(policy.unknown,))
    results = [applies(statement, caller, action, key_policy) for statement in policy.statements]
    denies = [r for r in results if r.statement.effect == "Deny"]
    allows = [r for r in results if r.statement.effect == "Allow"]
    unknown_effect = [r for r in results if r.statement.effect is None and r.applies is not Tri.NO]
    reasons = tuple(dict.fromkeys(r.reason for r in results if r.applies is Tri.MAYBE and r.reason))
    if any(r.applies is Tri.YES for r in denies):
        return Decision(Answer.DENIED, denying=tuple(r.statement for r in denies if r.applies is Tri.YES), reasons=reasons)
    allowing = tuple(r.statement for r in allows if r.applies is Tri.YES)
    maybe_denied = any(r.applies is Tri.MAYBE for r in denies) or unknown_effect
    if allowing and not maybe_denied:
        return Decision(Answer.ALLOWED, allowing=allowing)
    if allowing or any(r.applies is Tri.MAYBE for r in allows) or unknown_effect:
        return Decision(Answer.CANNOT_TELL, allowing=allowing, reasons=reasons or ("a statement cannot be decided",))
    return Decision(Answer.NOT_ALLOWED)


# --- describing fixes ----------------------------------------------------------------------------------


def _show_account(account: Account) -> str:
    if isinstance(account, str):
        return account
    if isinstance(account, Symbol):
        return "${" + getattr(account, "label", "account") + "}"
    return "<account ID>"


def slr_arn(account: Account) -> str:
    return f"arn:aws:iam::{_show_account(account)}:{SLR_PATH}"


def root_arn(account: Account) -> str:
    return f"arn:aws:iam::{_show_account(account)}:root"


def statement_json(sid: str, principal: str | None, actions: list[str], condition: dict | None = None) -> str:
    """The statement to add, as JSON a person can paste into a policy (no principal: an IAM policy)."""
    statement: dict = {"Sid": sid, "Effect": "Allow"}
    if principal is not None:
        statement["Principal"] = {"AWS": principal}
    statement |= {"Action": actions, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps(statement)


# --- AWS managed policies ------------------------------------------------------------------------------

XROLE_NAME = "EC2ImageBuilderDistributionCrossAccountRole"
DISTRIBUTION_POLICY = "Ec2ImageBuilderCrossAccountDistributionAccess"

# The documents of the AWS managed policies the rules need to read (others are "cannot tell").
_AWS_MANAGED: dict[str, list[dict]] = {
    # Grants no KMS action at all (RULES.md section 1).
    DISTRIBUTION_POLICY: [
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:*::image/*"},
        {"Effect": "Allow", "Action": ["ec2:DescribeImages", "ec2:CopyImage", "ec2:ModifyImageAttribute"], "Resource": "*"},
    ],
    "AdministratorAccess": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    "AmazonEC2FullAccess": [
        {"Effect": "Allow", "Action": ["ec2:*", "elasticloadbalancing:*", "cloudwatch:*", "autoscaling:*"], "Resource": "*"}
    ],
}

_MANAGED_ARN = re.compile(r"^arn:[^:]*:iam::aws:policy/(?:.*/)?(?P<name>[^/]+)$")


def aws_managed_policy_name(value: Value) -> str | None:
    """``Ec2ImageBuilderCrossAccountDistributionAccess`` for ``arn:<partition>:iam::aws:policy/…``."""
    if not isinstance(value, Text):
        return None
    match = _MANAGED_ARN.match(value.shape()[0])
    return match.group("name") if match else None


def aws_managed_policy(name: str, span: Span) -> Policy | None:
    statements = _AWS_MANAGED.get(name)
    if statements is None:
        return None
    from .values import from_python

    return read_policy(from_python({"Version": "2012-10-17", "Statement": statements}, span), span)


def combined(policies: list[Policy], span: Span) -> Policy:
    """Several identity policies evaluated together (an Allow in any, a Deny in any)."""
    unknown = "; ".join(p.unknown for p in policies if p.unknown)
    statements = tuple(statement for policy in policies if not policy.unknown for statement in policy.statements)
    return Policy(span, statements, unknown=unknown)
