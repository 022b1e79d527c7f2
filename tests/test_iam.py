"""The policy evaluator: AWS's evaluation rules, including property-based checks of the core laws."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ibpolicy_lint.documents import json_value, parse_yaml
from ibpolicy_lint.iam import (
    SLR_ACTIONS,
    SLR_PATH,
    Answer,
    Caller,
    Tri,
    action_matches,
    applies,
    decide,
    default_key_policy,
    document_value,
    read_policy,
)
from ibpolicy_lint.source import Span
from ibpolicy_lint.values import AccountOf, Text, Unknown, from_python, text

SPAN = Span.at("t.json", 1)
SOURCE = AccountOf("stack:t")
TARGET = "111122223333"
SLR = Caller(SOURCE, "the service-linked role", role=SLR_PATH, other_than=frozenset({TARGET}))
TARGET_CALLER = Caller(TARGET, "the target account", other_than=frozenset({SOURCE}))
KMS_ACTIONS = [*SLR_ACTIONS, "kms:ListGrants", "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:GenerateDataKey"]


def policy(*statements: dict):
    return read_policy(from_python({"Version": "2012-10-17", "Statement": list(statements)}, SPAN), SPAN)


def allow(principal, actions, **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*", **extra}


# --- actions ---------------------------------------------------------------------------------------


@st.composite
def action_and_matching_pattern(draw):
    action = draw(st.sampled_from(KMS_ACTIONS))
    pattern = "".join(draw(st.sampled_from([c.lower(), c.upper(), "?"])) if c.isalpha() else c for c in action)
    cut = draw(st.integers(min_value=4, max_value=len(pattern)))
    if draw(st.booleans()):
        pattern = pattern[:cut] + "*"
    return action, pattern


@given(action_and_matching_pattern())
def test_case_insensitive_wildcards_match(pair):
    action, pattern = pair
    assert action_matches(pattern, action)


@given(st.sampled_from(KMS_ACTIONS), st.sampled_from(KMS_ACTIONS))
def test_literal_patterns_match_only_themselves(first, second):
    assert action_matches(first, second) == (first.lower() == second.lower())


@given(st.sampled_from(KMS_ACTIONS))
def test_star_and_service_star_match_everything(action):
    assert action_matches("*", action) and action_matches("kms:*", action) and action_matches("KMS:*", action)
    assert not action_matches("s3:*", action)


def test_reencrypt_star_covers_both_directions():
    assert action_matches("kms:ReEncrypt*", "kms:ReEncryptFrom") and action_matches("kms:ReEncrypt*", "kms:ReEncryptTo")


# --- deny always wins ---------------------------------------------------------------------------------

STATEMENTS = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Principal": st.sampled_from(
            ["*", {"AWS": TARGET}, {"AWS": f"arn:aws:iam::{TARGET}:root"}, {"Service": "ec2.amazonaws.com"}]
        ),
        "Action": st.lists(
            st.sampled_from(["kms:*", "kms:Decrypt", "kms:Re*", "kms:Describe*", "*", "kms:CreateGrant"]), min_size=1
        ),
        "Resource": st.just("*"),
    }
)


@given(st.lists(STATEMENTS, max_size=6), st.sampled_from(KMS_ACTIONS))
def test_an_applicable_deny_always_wins(statements, action):
    document = policy(*statements)
    results = [applies(statement, TARGET_CALLER, action) for statement in document.statements]
    answer = decide(document, TARGET_CALLER, action).answer
    if any(r.applies is Tri.YES and r.statement.effect == "Deny" for r in results):
        assert answer is Answer.DENIED
    elif any(r.applies is Tri.YES and r.statement.effect == "Allow" for r in results):
        assert answer is Answer.ALLOWED
    else:
        assert answer is Answer.NOT_ALLOWED


@given(st.lists(STATEMENTS, max_size=6), st.sampled_from(KMS_ACTIONS))
def test_adding_a_blanket_deny_denies_everything(statements, action):
    blanket = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    assert decide(policy(*statements, blanket), TARGET_CALLER, action).answer is Answer.DENIED


# --- principals, resources, conditions ----------------------------------------------------------------


def test_default_policy_delegates_to_the_owner_only():
    default = default_key_policy(SOURCE, SPAN)
    assert all(decide(default, SLR, a).answer is Answer.ALLOWED for a in SLR_ACTIONS)
    assert decide(default, TARGET_CALLER, "kms:Decrypt").answer is Answer.NOT_ALLOWED


def test_statement_without_resource_applies_to_nothing_in_a_key_policy():
    document = policy({"Effect": "Allow", "Principal": "*", "Action": "kms:*"})
    assert decide(document, TARGET_CALLER, "kms:Decrypt").answer is Answer.NOT_ALLOWED


def test_not_action_and_not_principal():
    document = policy(
        {"Effect": "Allow", "Principal": {"AWS": TARGET}, "NotAction": "kms:Schedule*", "Resource": "*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": TARGET}, "Action": "kms:*", "Resource": "*"},
    )
    assert decide(document, TARGET_CALLER, "kms:Decrypt").answer is Answer.ALLOWED
    assert decide(document, TARGET_CALLER, "kms:ScheduleKeyDeletion").answer is Answer.NOT_ALLOWED
    assert decide(document, SLR, "kms:Decrypt").answer is Answer.DENIED


def test_roles_in_the_account_count_for_the_account_but_not_for_the_service_linked_role():
    document = policy(allow({"AWS": f"arn:aws:iam::{TARGET}:role/path/ImageCopier"}, "kms:Decrypt"))
    assert decide(document, TARGET_CALLER, "kms:Decrypt").answer is Answer.ALLOWED
    slr_document = policy(
        allow(
            {"AWS": "arn:aws:iam::123456789012:role/aws-service-role/imagebuilder.amazonaws.com/AWSServiceRoleForImageBuilder"},
            "*",
        )
    )
    slr = Caller("123456789012", "slr", role=SLR_PATH)
    other_role = Caller("123456789012", "other", role="role/MyAWSServiceRoleForImageBuilder")
    assert decide(slr_document, slr, "kms:Decrypt").answer is Answer.ALLOWED
    assert decide(slr_document, other_role, "kms:Decrypt").answer is Answer.NOT_ALLOWED


def test_star_narrowed_by_caller_account():
    document = policy(allow("*", "kms:Decrypt", Condition={"StringEquals": {"kms:CallerAccount": [TARGET]}}))
    assert decide(document, TARGET_CALLER, "kms:Decrypt").answer is Answer.ALLOWED
    assert decide(document, Caller("444455556666", "another"), "kms:Decrypt").answer is Answer.NOT_ALLOWED


def test_undecidable_conditions_cannot_tell_and_decidable_ones_decide():
    org = policy(allow("*", "kms:Decrypt", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))
    decision = decide(org, TARGET_CALLER, "kms:Decrypt")
    assert decision.answer is Answer.CANNOT_TELL and "aws:PrincipalOrgID" in decision.reasons[0]
    via = policy(allow({"AWS": TARGET}, "kms:CreateGrant", Condition={"StringLike": {"kms:ViaService": "ec2.*.amazonaws.com"}}))
    assert decide(via, TARGET_CALLER, "kms:CreateGrant").answer is Answer.ALLOWED
    rds = policy(
        allow({"AWS": TARGET}, "kms:CreateGrant", Condition={"StringEquals": {"kms:ViaService": "rds.us-east-1.amazonaws.com"}})
    )
    assert decide(rds, TARGET_CALLER, "kms:CreateGrant").answer is Answer.NOT_ALLOWED
    grant = policy(allow({"AWS": TARGET}, "kms:CreateGrant", Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}))
    assert decide(grant, TARGET_CALLER, "kms:CreateGrant").answer is Answer.ALLOWED


def test_deny_with_caller_account_exception():
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:CallerAccount": [TARGET]}},
    }
    document = policy(allow({"AWS": TARGET}, "kms:*"), deny)
    assert decide(document, TARGET_CALLER, "kms:Decrypt").answer is Answer.ALLOWED
    assert decide(document, Caller("444455556666", "another"), "kms:Decrypt").answer is Answer.DENIED


def test_non_aws_principals_never_match_an_iam_caller():
    for kind in ("Federated", "CanonicalUser"):
        policy = read_policy(
            parse_yaml(
                f"Statement: [{{Effect: Deny, Principal: {{{kind}: x}}, Action: 'kms:*', Resource: '*'}}]".encode(), "p"
            ).root,
            Span.at("p", 1),
        )
        (statement,) = policy.statements
        assert applies(statement, Caller("444455556666", "the target account"), "kms:Decrypt").applies is Tri.NO


def test_json_string_policy_keeps_symbols_and_lines():
    body = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::@@:root"}, "Action": "kms:*", "Resource": "*"}]},
        indent=2,
    )
    before, after = body.split("@@")
    value = Text(parts=(before, SOURCE, after), span=Span.at("template.yaml", 10))
    document = read_policy(value, value.span)
    (statement,) = document.statements
    assert statement.span.line == 10 + 3  # the statement's own line inside the block scalar
    assert decide(document, SLR, "kms:Decrypt").answer is Answer.ALLOWED


def test_json_value_keeps_symbols_and_document_value_places_one_line_strings_at_the_string():
    span = Span("p.tf", 7, 3, 7, 40)
    value = Text(parts=('{"Statement": [{"Principal": {"AWS": "arn:aws:iam::', AccountOf("d"), ':root"}}]}'), span=span)
    tree = json_value(value)
    principal = tree.get("Statement").items[0].get("Principal").get("AWS")
    assert principal.parts == ("arn:aws:iam::", AccountOf("d"), ":root") and principal.span.line == 1
    placed = document_value(value)
    assert placed.get("Statement").items[0].span == span
    assert isinstance(document_value(Text(parts=("{not json",), span=span)), Unknown)


def test_unreadable_documents_cannot_tell():
    broken = read_policy(text("{not json", SPAN), SPAN)
    assert broken.unknown and decide(broken, SLR, "kms:Decrypt").answer is Answer.CANNOT_TELL
