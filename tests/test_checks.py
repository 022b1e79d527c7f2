"""Judging checks over the decisions they consult, and the small helpers the checks share."""

from __future__ import annotations

import json

from conftest import SPAN, choice, run_cli
from ibpolicy_lint.checks.key_policies import _names_slr
from ibpolicy_lint.checks.keys import volume_encrypted
from ibpolicy_lint.findings import Severity
from ibpolicy_lint.iam import SLR_PATH, Answer, Caller, decide, read_policy
from ibpolicy_lint.model import Volume
from ibpolicy_lint.sharing import regions_differ
from ibpolicy_lint.values import (
    MAX_WORLDS,
    AccountOf,
    Attribute,
    Choice,
    Opaque,
    RegionOf,
    Scalar,
    Text,
    Unknown,
    completed,
    from_python,
    holds,
    opposite,
    select,
    text,
)
from ibpolicy_lint.verdicts import Undecided, Violated, judge

# --- judge learns the decisions a check consults ------------------------------------------------------


def test_a_condition_consulted_only_through_holds_makes_the_finding_conditional():
    verdict = judge(lambda world: Violated("x") if holds(frozenset({("condition Enc", "true")}), world) else None)
    assert not verdict.certain
    assert verdict.condition() == " (when condition Enc is true)"


def test_choices_nested_in_branches_are_followed():
    inner = choice("B", text("managed", SPAN), text("customer", SPAN))
    value = choice("A", inner, text("customer", SPAN))
    verdict = judge(lambda world: Violated("x") if getattr(select(value, world), "literal", None) == "managed" else None)
    assert len(verdict.every_world) == 4
    assert len(verdict.violated) == 1
    assert verdict.condition() == " (when A is true and B is true)"


def test_a_decision_consulted_only_in_one_branch_is_learnt():
    def decide(world):
        if not holds(frozenset({("condition Recipe", "true")}), world):
            return None
        return Violated("x") if holds(frozenset({("condition Shared", "true")}), world) else None

    verdict = judge(decide)
    assert {frozenset(world.items()) for world, _ in verdict.violated} == {
        frozenset({("condition Recipe", "true"), ("condition Shared", "true")})
    }


def test_a_check_that_consults_nothing_runs_once():
    calls = []
    verdict = judge(lambda world: calls.append(1) or Undecided("why"))
    assert calls == [1]
    assert verdict.every_world == [{}] and len(verdict.undecided) == 1


def test_worlds_that_take_the_same_consulted_outcomes_are_not_run_again():
    calls = []
    unrelated = [choice(f"U{n}", text("1", SPAN), text("0", SPAN)) for n in range(4)]

    def decide(world):
        calls.append(1)
        if holds(frozenset({("condition A", "true")}), world):
            return Violated("x")
        for value in unrelated:  # consulted only when A is false
            select(value, world)
        return None

    verdict = judge(decide)
    assert len(verdict.every_world) == 32
    assert len(verdict.violated) == 16
    assert len(calls) < len(verdict.every_world)


def test_a_verdict_over_too_many_decisions_to_examine_is_never_certain():
    details = [choice(f"condition C{n}", text("1", SPAN), text("0", SPAN)) for n in range(MAX_WORLDS.bit_length())]

    def decide(world):
        for value in details:
            select(value, world)
        return Violated("x") if holds(frozenset({("condition ZZZ", "true")}), world) else None

    verdict = judge(decide)
    assert len(verdict.every_world) <= MAX_WORLDS
    assert len(verdict.violated) == len(verdict.every_world)  # ZZZ is beyond the limit: taken everywhere
    assert not verdict.certain
    assert verdict.severity(Severity.ERROR) is Severity.WARNING
    assert "not every combination of conditions was examined; not followed: " in verdict.condition()
    assert "condition ZZZ" in verdict.condition()


def test_a_verdict_splits_into_the_worlds_each_part_is_found_in():
    # A Deny statement found in every world, another only when condition A is true.
    verdict = judge(lambda world: Violated(["always", *(["sometimes"] if holds(frozenset({("A", "true")}), world) else [])]))
    parts = verdict.split(lambda found: ((name, name) for name in found))
    assert parts["always"].certain
    assert not parts["sometimes"].certain and parts["sometimes"].condition() == " (when A is true)"


def test_the_worst_severity_is_certain_only_when_reached_in_every_world():
    verdict = judge(lambda world: Violated(Severity.ERROR if holds(frozenset({("A", "true")}), world) else Severity.WARNING))
    assert verdict.certain  # violated everywhere, but an error only when A is true
    severity, worst = verdict.worst(lambda detail: detail)
    assert severity is Severity.WARNING
    assert worst.condition() == " (when A is true)"


# --- a decision seen with one outcome also gets the outcome where it does not hold -------------------------


def test_single_outcomes_are_completed():
    assert opposite("true") == "false"
    assert opposite("not 0") == "0"
    assert opposite("not empty") == "empty"
    assert completed({"count of aws_kms_key.k": ["not 0"]}) == {"count of aws_kms_key.k": ("not 0", "0")}


def test_a_decision_over_named_values_takes_only_those_it_names():
    # Fn::FindInMap keyed by the Region with one row: any other Region fails the look-up; it is not
    # a world in which the key is missing, and no message may say the Region "is other".
    assert opposite("us-east-1") is None
    assert completed({"AWS::Region": ["us-east-1"]}) == {"AWS::Region": ("us-east-1",)}
    row = Choice(subject="AWS::Region", branches=(("us-east-1", text("arn:aws:kms:us-east-1:1:key/k", SPAN)),), span=SPAN)
    verdict = judge(lambda world: Violated("x") if not isinstance(select(row, world), Text) else None)
    assert verdict.every_world == [{"AWS::Region": "us-east-1"}]
    assert not verdict.violated


def test_a_count_the_sources_do_not_give_is_a_condition():
    verdict = judge(lambda world: Violated("x") if holds(frozenset({("count of aws_x.y", "not 0")}), world) else None)
    assert verdict.severity(Severity.ERROR) is Severity.WARNING
    assert verdict.condition() == " (when count of aws_x.y is not 0)"


# --- kms:ViaService is matched against the Region of the key use --------------------------------------------


def _via(service: str):
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringLike": {"kms:ViaService": service}},
    }
    return read_policy(from_python({"Version": "2012-10-17", "Statement": [statement]}, SPAN), SPAN)


def _answer(service: str, region: str | None) -> Answer:
    caller = Caller("111122223333", "account 111122223333", other_than=frozenset({AccountOf("stack:t")}), region=region)
    return decide(_via(service), caller, "kms:Decrypt").answer


def test_via_service_names_ec2_in_the_region_of_the_use():
    assert _answer("ec2.eu-west-1.amazonaws.com", "eu-west-1") is Answer.ALLOWED
    assert _answer("ec2.us-east-1.amazonaws.com", "eu-west-1") is Answer.NOT_ALLOWED
    assert _answer("ec2.*.amazonaws.com", "ap-south-1") is Answer.ALLOWED
    assert _answer("s3.eu-west-1.amazonaws.com", "eu-west-1") is Answer.NOT_ALLOWED


def test_via_service_in_a_region_the_sources_do_not_give_cannot_be_told():
    assert _answer("ec2.eu-west-1.amazonaws.com", None) is Answer.CANNOT_TELL
    assert _answer("ec2.*.amazonaws.com", None) is Answer.ALLOWED
    assert _answer("rds.eu-west-1.amazonaws.com", None) is Answer.NOT_ALLOWED


# --- Regions, volumes and grantees -----------------------------------------------------------------------------


def test_a_literal_region_differs_only_from_the_deployment_it_is_known_to_differ_from():
    build, other = RegionOf("tf:main"), RegionOf("tf:other")
    apart = {build: frozenset({"eu-west-1"})}
    assert regions_differ(build, "eu-west-1", apart) is True
    assert regions_differ(other, "eu-west-1", apart) is None
    assert regions_differ("eu-west-1", other, apart) is None


def _volume(encrypted, key) -> Volume:
    return Volume(span=SPAN, device=text("/dev/xvda", SPAN), encrypted=encrypted, kms_key_id=key)


def test_whether_a_volume_is_encrypted():
    key = text("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", SPAN)
    unknown = Unknown(reason="variable k has no default", span=SPAN)
    assert volume_encrypted(_volume(Scalar(value=True, span=SPAN), None), {}) is True
    assert volume_encrypted(_volume(text("false", SPAN), key), {}) is False
    assert volume_encrypted(_volume(None, None), {}) is False
    assert volume_encrypted(_volume(None, key), {}) is True
    assert volume_encrypted(_volume(None, unknown), {}) is None
    assert volume_encrypted(_volume(unknown, None), {}) is None


def test_grants_to_the_service_linked_role_are_matched_on_literal_text():
    source = AccountOf("tf:main", "data.aws_caller_identity.current.account_id")
    slr = Caller(source, "the Image Builder service-linked role", role=SLR_PATH)
    assert _names_slr(Text(parts=("arn:aws:iam::", source, ":" + SLR_PATH), span=SPAN), slr) is True
    assert _names_slr(text("arn:aws:iam::111122223333:role/Deployer", SPAN), slr) is False
    assert _names_slr(Unknown(reason="variable grantee has no default", span=SPAN), slr) is None
    reference = Attribute("tf:main:aws_iam_service_linked_role.x", "arn", "aws_iam_service_linked_role.x.arn")
    assert _names_slr(Text(parts=(reference,), span=SPAN), slr) is None


def test_a_grant_to_another_accounts_service_linked_role_is_not_a_grant_to_the_source_one():
    slr = Caller("123456789012", "the Image Builder service-linked role", role=SLR_PATH)
    assert _names_slr(text(f"arn:aws:iam::123456789012:{SLR_PATH}", SPAN), slr) is True
    assert _names_slr(text(f"arn:aws:iam::999999999999:{SLR_PATH}", SPAN), slr) is False
    # An account the sources do not give may be the source account: cannot tell.
    opaque = Text(parts=("arn:aws:iam::", Opaque("var.account has no default"), ":" + SLR_PATH), span=SPAN)
    assert _names_slr(opaque, slr) is None
    # The source account's ID not given: another literal account may be it, unless it is a target account.
    unknown_source = Caller(AccountOf("stack:t"), "the role", role=SLR_PATH, other_than=frozenset({"999999999999"}))
    assert _names_slr(text(f"arn:aws:iam::111122223333:{SLR_PATH}", SPAN), unknown_source) is None
    assert _names_slr(text(f"arn:aws:iam::999999999999:{SLR_PATH}", SPAN), unknown_source) is False


# --- fixes written in the sources' own syntax -------------------------------------------------------------

ALIAS_BY_NAME = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  ImageKey:
    Type: AWS::KMS::Key
  ImageAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/golden
      TargetKeyId: !Ref ImageKey
  Distribution:
    Type: AWS::ImageBuilder::DistributionConfiguration
    Properties:
      Name: golden
      Distributions:
        - Region: us-east-1
          AmiDistributionConfiguration:
            KmsKeyId: !Ref ImageAlias
            TargetAccountIds: ["111122223333"]
"""


def test_the_ibp107_fix_writes_an_alias_arn_a_template_can_express(tmp_path):
    """An alias has no Arn attribute in CloudFormation: the fix builds its ARN from its name."""
    (tmp_path / "template.yaml").write_text(ALIAS_BY_NAME)
    report = json.loads(run_cli("--no-cache", "--format", "json", "--select", "IBP107", ".", cwd=tmp_path).stdout)
    fixes = [finding["fix"] for finding in report["findings"]]
    assert fixes == ["Use the ARN: !Sub arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:${ImageAlias}."]


# --- the destination role ------------------------------------------------------------------------------

TWO_ACCOUNTS = """\
provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}
provider "aws" {
  alias  = "target"
  region = "us-east-1"
  assume_role {
    role_arn = "arn:aws:iam::222222222222:role/deployer"
  }
}
resource "aws_kms_key" "k" {}
resource "aws_imagebuilder_image_recipe" "r" {
  name         = "r"
  parent_image = "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2-x86/x.x.x"
  version      = "1.0.0"
  component { component_arn = "arn:aws:imagebuilder:us-east-1:aws:component/x/1.0.0" }
  block_device_mapping {
    device_name = "/dev/xvda"
    ebs {
      encrypted  = true
      kms_key_id = aws_kms_key.k.arn
    }
  }
}
resource "aws_imagebuilder_distribution_configuration" "d" {
  name = "d"
  distribution {
    region = "us-east-1"
    ami_distribution_configuration {
      target_account_ids = ["222222222222"]
    }
  }
}
resource "aws_imagebuilder_image_pipeline" "p" {
  name                             = "p"
  image_recipe_arn                 = aws_imagebuilder_image_recipe.r.arn
  infrastructure_configuration_arn = "arn:aws:imagebuilder:us-east-1:111111111111:infrastructure-configuration/x"
  distribution_configuration_arn   = aws_imagebuilder_distribution_configuration.d.arn
}
%s
"""

ROLE = """\
variable "path" {
  type = string
}
resource "aws_iam_role" "x" {
  provider = aws.target
  name     = "EC2ImageBuilderDistributionCrossAccountRole"
  %s
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::111111111111:root" }, Action = "sts:AssumeRole" }]
  })
  managed_policy_arns = [%s]
}
"""


def _role_findings(tmp_path, role: str) -> list[tuple[str, str, str]]:
    (tmp_path / "main.tf").write_text(TWO_ACCOUNTS % role)
    report = json.loads(run_cli("--no-cache", "--format", "json", ".", cwd=tmp_path).stdout)
    role_rules = [f for f in report["findings"] if f["rule"] == "IBP204" or f["rule"].startswith("IBP30")]
    return [(f["rule"], f["severity"], f["message"]) for f in role_rules]


def test_an_aws_managed_policy_whose_document_is_not_known_makes_the_role_cannot_tell(tmp_path):
    """PowerUserAccess may well grant the KMS and EC2 actions: the role is 'cannot tell', never an error."""
    power = '"arn:aws:iam::aws:policy/PowerUserAccess"'
    found = _role_findings(tmp_path, ROLE % ("", power))
    assert {(rule, severity) for rule, severity, _ in found} == {("IBP204", "info"), ("IBP304", "info")}
    assert all("PowerUserAccess" in message for _, _, message in found)
    distribution = '"arn:aws:iam::aws:policy/Ec2ImageBuilderCrossAccountDistributionAccess"'
    found = _role_findings(tmp_path, ROLE % ("", f"{distribution}, {power}"))
    assert [(rule, severity) for rule, severity, _ in found] == [("IBP204", "info")]


def test_a_role_whose_path_the_sources_do_not_give_is_not_judged_as_the_distribution_role(tmp_path):
    """Only IBP302's info (verify the path is /), no IBP204/IBP304 error as if the path were /."""
    found = _role_findings(tmp_path, ROLE % ("path = var.path", ""))
    assert [(rule, severity) for rule, severity, _ in found] == [("IBP302", "info")]
    assert "path" in found[0][2]


def test_a_case_only_misnaming_with_a_path_the_sources_do_not_give_does_not_say_only_case(tmp_path):
    role = (ROLE % ("path = var.path", '"arn:aws:iam::aws:policy/Ec2ImageBuilderCrossAccountDistributionAccess"')).replace(
        '"EC2ImageBuilderDistributionCrossAccountRole"', '"ec2ImageBuilderDistributionCrossAccountRole"'
    )
    found = [finding for finding in _role_findings(tmp_path, role) if finding[0] == "IBP302"]
    assert len(found) == 1
    assert "only in case" not in found[0][2]
    assert "path" in found[0][2]


LAUNCH_TEMPLATE = """\
      target_account_ids = ["%s"]
    }
    launch_template_configuration {
      launch_template_id = "lt-0123456789abcdef0"
      account_id         = "222222222222"
"""


def test_ibp305_judges_the_launch_template_account_only_where_its_sources_are_in_the_scan(tmp_path):
    """The target account's only source exists when var.make is true: otherwise IBP305 has nothing to judge."""
    role = (ROLE % ("", '"arn:aws:iam::aws:policy/Ec2ImageBuilderCrossAccountDistributionAccess"')).replace(
        "provider = aws.target", "provider = aws.target\n  count    = var.make ? 1 : 0"
    )
    (tmp_path / "main.tf").write_text(
        (TWO_ACCOUNTS % role).replace('      target_account_ids = ["222222222222"]\n', LAUNCH_TEMPLATE % "333333333333")
    )
    report = json.loads(run_cli("--no-cache", "--format", "json", "--select", "IBP305", ".", cwd=tmp_path).stdout)
    messages = [finding["message"] for finding in report["findings"]]
    assert len(messages) == 1
    assert "does not allow" in messages[0] and "(when var.make is true)" in messages[0]


def test_ibp305_leaves_a_missing_distribution_role_to_ibp301(tmp_path):
    key = 'resource "aws_kms_key" "there" {\n  provider = aws.target\n}\n'
    (tmp_path / "main.tf").write_text(
        (TWO_ACCOUNTS % key).replace('      target_account_ids = ["222222222222"]\n', LAUNCH_TEMPLATE % "222222222222")
    )
    report = json.loads(run_cli("--no-cache", "--format", "json", "--select", "IBP301,IBP305", ".", cwd=tmp_path).stdout)
    assert [finding["rule"] for finding in report["findings"]] == ["IBP301"]


def test_ibp302_words_a_generated_name_the_same_for_every_source_format(tmp_path):
    role = (ROLE % ("", '"arn:aws:iam::aws:policy/Ec2ImageBuilderCrossAccountDistributionAccess"')).replace(
        'name     = "EC2ImageBuilderDistributionCrossAccountRole"', 'name_prefix = "distribution"'
    )
    found = [finding for finding in _role_findings(tmp_path, role) if finding[0] == "IBP302"]
    assert [(rule, severity) for rule, severity, _ in found] == [("IBP302", "error")]
    assert "has a generated name:" in found[0][2]
