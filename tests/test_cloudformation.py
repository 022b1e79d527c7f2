"""The CloudFormation loader: intrinsic functions resolved into the neutral model, parameters, conditions as
one decision, mapping keys, StackSet targets and parameters, JSON policies in block scalars."""

from __future__ import annotations

import json
import textwrap

from ibpolicy_lint.cloudformation import ParameterValue, is_template, load_template
from ibpolicy_lint.documents import parse_yaml
from ibpolicy_lint.estate import Estate
from ibpolicy_lint.iam import read_policy
from ibpolicy_lint.model import Deployment, DistributionConfiguration, ImageRecipe, KmsKey
from ibpolicy_lint.values import (
    KEY_ID,
    AccountOf,
    Attribute,
    Choice,
    ListValue,
    MapValue,
    Opaque,
    RegionOf,
    Text,
    Unknown,
)

# --- loading a template -------------------------------------------------------------------------------


def load(body: str, parameters: dict | None = None, *, with_lines: bool = True) -> list:
    """The resources of ``body`` (after the format version line) as stack t.yaml, with the file's lines
    as the scan gives them unless ``with_lines`` is false."""
    text = "AWSTemplateFormatVersion: '2010-09-09'\n" + textwrap.dedent(body)
    root = parse_yaml(text.encode(), "t.yaml").root
    deployment = Deployment(key="stack:t.yaml", name="t.yaml")
    lines = text.splitlines() if with_lines else None
    return load_template(root, "t.yaml", deployment, parameters, lines=lines)


def by_name(body: str, parameters: dict | None = None) -> dict:
    return {resource.name: resource for resource in load(body, parameters)}


RECIPE = """
Resources:
  Key:
    Type: AWS::KMS::Key{key_condition}
  Recipe:
    Type: AWS::ImageBuilder::ImageRecipe
    Properties:
      BlockDeviceMappings:
        - DeviceName: /dev/xvda
          Ebs:{encrypted}
            KmsKeyId: {value}
"""


def recipe(kms_key_id: str, *, key_condition: str = "", encrypted: str = "") -> str:
    """Resources: a KMS key (under ``key_condition``) and a recipe whose one volume has ``kms_key_id`` (and
    ``encrypted``). Without the options the volume's KmsKeyId is on line 11 of this text."""
    return RECIPE.format(
        value=kms_key_id,
        key_condition=f"\n    Condition: {key_condition}" if key_condition else "",
        encrypted=f"\n            Encrypted: {encrypted}" if encrypted else "",
    )


def recipe_volume(body: str, parameters: dict | None = None):
    recipe = next(r for r in load(body, parameters) if isinstance(r, ImageRecipe))
    return recipe.volumes[0]


def recipe_key(value: str, preamble: str = "", parameters: dict | None = None):
    """The KmsKeyId of the recipe in ``preamble`` + ``recipe(value)``."""
    return recipe_volume(preamble + recipe(value), parameters).kms_key_id


DISTRIBUTION = """
Resources:
  Distribution:
    Type: AWS::ImageBuilder::DistributionConfiguration
    Properties:
      Distributions:
        - Region: us-east-1
          AmiDistributionConfiguration:
"""


def distribution(*properties: str, more: str = "") -> str:
    """Resources: a distribution configuration whose first entry, in us-east-1, has the AMI distribution
    ``properties`` (one line each); ``more`` is one more entry."""
    lines = [" " * 12 + line for line in properties] + ([" " * 8 + more] if more else [])
    return DISTRIBUTION + "\n".join(lines) + "\n"


# --- what a template is --------------------------------------------------------------------------------


def test_is_template():
    assert is_template(parse_yaml(b"AWSTemplateFormatVersion: 2010-09-09\n", "t").root)
    assert is_template(parse_yaml(b"Resources: {A: {Type: 'AWS::S3::Bucket'}}", "t").root)
    assert is_template(parse_yaml(b"Resources: {A: {Type: 'Custom::Thing'}}", "t").root)
    assert not is_template(parse_yaml(b"Resources: {A: {Type: 'kubernetes'}}", "t").root)
    assert not is_template(parse_yaml(b"repos: []", "t").root)


# --- Fn::Sub, Ref, Fn::GetAtt, Fn::Join, Fn::Select ----------------------------------------------------


def test_sub_with_pseudo_parameters_keeps_symbols():
    value = recipe_key("!Sub 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/ebs'")
    assert isinstance(value, Text)
    assert value.parts[-1] == ":alias/aws/ebs"
    assert RegionOf("stack:t.yaml") in value.parts and AccountOf("stack:t.yaml") in value.parts
    assert value.shown() == "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/ebs"


def test_ref_to_a_key_is_its_key_id():
    value = recipe_key("!Ref Key")
    assert value.symbol == Attribute("t.yaml#Key", KEY_ID)


def test_sub_variable_map_and_getatt_inside_sub():
    value = recipe_key("!Sub ['${Arn}', {Arn: !GetAtt Key.Arn}]")
    assert value.symbol == Attribute("t.yaml#Key", "arn")
    value = recipe_key("!Sub 'arn:aws:kms:us-east-1:111122223333:key/${Key}'")
    assert value.parts[-1] == Attribute("t.yaml#Key", KEY_ID)


def test_join_select_split():
    value = recipe_key("!Join ['/', [alias, aws, ebs]]")
    assert value.literal == "alias/aws/ebs"
    value = recipe_key("!Select [1, !Split [',', 'alias/a,alias/aws/ebs']]")
    assert value.literal == "alias/aws/ebs"


# --- parameters, Fn::ImportValue -----------------------------------------------------------------------


def test_parameter_default_and_override():
    preamble = "Parameters:\n  K: {Type: String, Default: alias/aws/ebs}\n"
    value = recipe_key("!Ref K", preamble)
    assert value.literal == "alias/aws/ebs"
    assert value.origin == "the default of parameter K (line 3)"
    assert value.span.line == 14  # where the recipe uses it, not the default
    overridden = recipe_key("!Ref K", preamble, {"K": ParameterValue("alias/golden", "prod.json")})
    assert overridden.literal == "alias/golden" and "prod.json" in overridden.origin


def test_parameter_without_default_and_ssm_parameter_are_unknown():
    assert isinstance(recipe_key("!Ref K", "Parameters:\n  K: {Type: String}\n"), Unknown)
    value = recipe_key("!Ref K", "Parameters:\n  K: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /keys/ami}\n")
    assert isinstance(value, Unknown) and "SSM" in value.reason


def test_import_value_and_dynamic_reference_are_unknown():
    assert "Fn::ImportValue shared-key" in recipe_key("!ImportValue shared-key").reason
    value = recipe_key("'{{resolve:ssm:/keys/ami}}'")
    assert isinstance(value, Unknown) and "resolve:ssm" in value.reason


# --- Fn::FindInMap, Fn::Split, dynamic references ------------------------------------------------------

MAPPINGS = """
Parameters:
  Stage:
    Type: String
Mappings:
  Keys:
    us-east-1: {prod: arn:aws:kms:us-east-1:111122223333:key/a, dev: alias/aws/ebs}
    eu-west-1: {prod: arn:aws:kms:eu-west-1:111122223333:key/b}
  Accounts:
    prod: {Targets: ["444455556666", "555566667777"]}
"""


def test_find_in_map_with_unknown_region_is_a_choice_over_rows():
    preamble = "Mappings:\n  Keys:\n    us-east-1: {Volume: alias/aws/ebs}\n    eu-west-1: {Volume: alias/golden}\n"
    value = recipe_key("!FindInMap [Keys, !Ref 'AWS::Region', Volume]", preamble)
    assert isinstance(value, Choice) and value.subject == "AWS::Region"
    assert {outcome: branch.literal for outcome, branch in value.branches} == {
        "us-east-1": "alias/aws/ebs",
        "eu-west-1": "alias/golden",
    }


def test_find_in_map_names_the_key_it_enumerates():
    value = recipe_key('!FindInMap [Keys, !Sub "${AWS::Region}", prod]', MAPPINGS)
    assert isinstance(value, Choice) and value.subject == "AWS::Region"
    value = recipe_key('!FindInMap [Keys, !Sub "${AWS::Region}-x", prod]', MAPPINGS)
    assert isinstance(value, Choice) and value.subject == "${AWS::Region}-x"
    value = recipe_key("!FindInMap [Keys, !Ref Stage, prod]", MAPPINGS)
    assert isinstance(value, Choice) and value.subject == "parameter Stage"


def test_find_in_map_with_an_unknown_second_key_passes_its_reason_on():
    value = recipe_key("!FindInMap [Keys, us-east-1, !Ref Stage]", MAPPINGS)
    assert isinstance(value, Unknown) and "parameter Stage" in value.reason and "has no default" in value.reason
    value = recipe_key("!FindInMap [Keys, us-east-1, !Ref AWS::Region]", MAPPINGS)
    assert isinstance(value, Choice) and value.subject == "AWS::Region"
    assert [outcome for outcome, _ in value.branches] == ["prod", "dev"]


def test_find_in_map_list_items_are_reported_where_they_are_used():
    (distribution_configuration,) = load(MAPPINGS + distribution("TargetAccountIds: !FindInMap [Accounts, prod, Targets]"))
    targets = distribution_configuration.entries[0].target_account_ids
    assert isinstance(targets, ListValue)
    assert {item.span for item in targets.items} == {targets.span}
    assert all(item.origin.startswith("mapping Accounts.prod.Targets") for item in targets.items)


def test_mappings_keyed_by_the_same_decision_share_its_outcomes():
    encryption = "  Encryption:\n    us-east-1: {On: 'true'}\n    ap-south-2: {On: 'true'}\n"
    mappings = MAPPINGS.replace("Mappings:\n", "Mappings:\n" + encryption)
    volume = recipe_volume(
        mappings + recipe("!FindInMap [Keys, !Ref AWS::Region, prod]", encrypted="!FindInMap [Encryption, !Ref AWS::Region, On]")
    )
    for value in (volume.encrypted, volume.kms_key_id):
        assert isinstance(value, Choice) and value.subject == "AWS::Region"
        assert sorted(outcome for outcome, _ in value.branches) == ["ap-south-2", "eu-west-1", "us-east-1"]
    missing = dict(volume.kms_key_id.branches)["ap-south-2"]
    assert isinstance(missing, Unknown) and missing.reason == "mapping Keys has no ap-south-2: Fn::FindInMap fails"


def test_split_of_a_value_with_symbols():
    assert isinstance(recipe_key('!Select [0, !Split ["/", !GetAtt Key.Arn]]'), Unknown)
    assert isinstance(recipe_key('!Select [0, !Split ["-", !Ref AWS::Region]]'), Unknown)
    value = recipe_key('!Select [4, !Split [":", !Sub "arn:aws:kms:${AWS::Region}:${AWS::AccountId}:key/x"]]')
    assert isinstance(value.symbol, AccountOf)
    value = recipe_key('!Select [1, !Split ["/", !Sub "arn:aws:kms:us-east-1:${AWS::AccountId}:key/x"]]')
    assert value.literal == "x"
    assert isinstance(recipe_key('!Select [0, !Split ["1", !Sub "${AWS::AccountId}1"]]'), Unknown)


def test_dynamic_references_inside_sub_with_symbols_are_parts_not_given():
    value = recipe_key('!Sub "arn:aws:kms:${AWS::Region}:{{resolve:ssm:/org/account}}:alias/aws/ebs"')
    assert isinstance(value, Text)
    assert value.parts[1] == RegionOf("stack:t.yaml")
    assert isinstance(value.parts[3], Opaque) and value.parts[3].label == "{{resolve:ssm:/org/account}}"
    assert value.parts[-1] == ":alias/aws/ebs"
    # A variable inside the reference: the whole reference is one part not given.
    value = recipe_key('!Sub "{{resolve:ssm:/keys/${AWS::Region}/arn}}"')
    assert isinstance(value, Unknown) and "{{resolve:ssm:/keys/${AWS::Region}/arn}}" in value.reason
    # Through a choice in a variable.
    preamble = "Conditions:\n  C: !Equals [!Ref AWS::AccountId, '111122223333']\n"
    value = recipe_key('!Sub ["${Region}:{{resolve:ssm:/k}}", {Region: !If [C, !Ref AWS::Region, us-east-1]}]', preamble)
    assert isinstance(value, Choice)
    assert all(isinstance(branch, Text) and isinstance(branch.parts[-1], Opaque) for _, branch in value.branches)


def test_dynamic_references_built_by_join_are_read_as_sub_reads_them():
    preamble = "Parameters:\n  Name: {Type: String, Default: /keys/ami}\n"
    joined = recipe_key('!Join ["", ["{{resolve:ssm:", !Ref Name, "}}"]]', preamble)
    subbed = recipe_key('!Sub "{{resolve:ssm:${Name}}}"', preamble)
    for value in (joined, subbed):
        assert isinstance(value, Unknown)
        assert value.reason == "resolved at deploy time (dynamic reference {{resolve:ssm:/keys/ami}})"
    value = recipe_key('!Join [":", ["arn:aws:kms", !Ref AWS::Region, "{{resolve:ssm:/org/account}}", "alias/x"]]')
    assert isinstance(value, Text) and isinstance(value.parts[3], Opaque) and value.parts[-1] == ":alias/x"


# --- conditions: Fn::If, resource conditions, AWS::NoValue, one decision through Fn::Not -----------------


def test_if_over_undecidable_condition_is_a_choice_and_decided_condition_is_not():
    preamble = """\
    Parameters:
      Env: {Type: String}
      Mode: {Type: String, Default: prod}
    Conditions:
      IsDev: !Equals [!Ref Env, dev]
      IsProd: !Equals [!Ref Mode, prod]
    """
    preamble = textwrap.dedent(preamble)
    choice = recipe_key("!If [IsDev, alias/aws/ebs, !GetAtt Key.Arn]", preamble)
    assert isinstance(choice, Choice) and choice.subject == "condition IsDev"
    decided = recipe_key("!If [IsProd, alias/aws/ebs, !GetAtt Key.Arn]", preamble)
    assert decided.literal == "alias/aws/ebs"


def test_resource_condition_false_drops_the_resource_and_undecided_marks_it():
    body = """
    Parameters:
      Env: {Type: String}
    Conditions:
      Never: !Equals [a, b]
      IsDev: !Equals [!Ref Env, dev]
    Resources:
      Gone:
        Type: AWS::ImageBuilder::DistributionConfiguration
        Condition: Never
        Properties: {Distributions: []}
      Maybe:
        Type: AWS::ImageBuilder::DistributionConfiguration
        Condition: IsDev
        Properties: {Distributions: []}
    """
    resources = by_name(body)
    assert "Gone" not in resources
    assert resources["Maybe"].condition == frozenset({("condition IsDev", "true")})


def test_distribution_entries_with_no_value_and_conditional_items():
    preamble = "Parameters:\n  Env: {Type: String}\nConditions:\n  IsDev: !Equals [!Ref Env, dev]\n"
    body = preamble + distribution(
        "KmsKeyId: !Ref AWS::NoValue",
        "TargetAccountIds: [!If [IsDev, !Ref AWS::NoValue, '111122223333']]",
        more="- !If [IsDev, {Region: eu-west-1}, !Ref AWS::NoValue]",
    )
    dist = by_name(body)["Distribution"]
    assert isinstance(dist, DistributionConfiguration)
    first, second = dist.entries
    assert first.kms_key_id is None
    assert isinstance(first.target_account_ids, ListValue)
    assert second.condition == frozenset({("condition IsDev", "true")})
    assert second.region.literal == "eu-west-1"


CONDITIONS = """
Parameters:
  Env:
    Type: String
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  AlsoDev: !Not [!Equals [prod, !Ref Env]]
  Either: !Or [!Condition IsProd, !Condition IsDev]
  Neither: !And [!Condition IsProd, !Condition AlsoDev]
  ProdAgain: !And [!Condition IsProd, !Not [!Condition AlsoDev]]
"""


def conditioned(name: str, resource: str = "IsProd"):
    """The recipe's key ``!If [name, managed, customer]``, and the KMS key under the condition ``resource``
    (None when that condition drops it)."""
    resources = by_name(CONDITIONS + recipe(f"!If [{name}, managed, customer]", key_condition=resource))
    return resources["Recipe"].volumes[0].kms_key_id, resources.get("Key")


def test_not_of_a_condition_is_the_same_decision_flipped():
    for name in ("IsDev", "AlsoDev"):
        value, _ = conditioned(name)
        assert isinstance(value, Choice) and value.subject == "condition IsProd"
        assert [(outcome, branch.literal) for outcome, branch in value.branches] == [
            ("true", "customer"),
            ("false", "managed"),
        ]


def test_and_or_over_one_decision_are_decided_or_reduced():
    assert conditioned("Either")[0].literal == "managed"  # IsProd or not IsProd
    assert conditioned("Neither")[0].literal == "customer"  # IsProd and not IsProd
    value, _ = conditioned("ProdAgain")
    assert isinstance(value, Choice) and value.subject == "condition IsProd"
    assert value.branches[0] == ("true", value.branches[0][1]) and value.branches[0][1].literal == "managed"


def test_resource_condition_uses_the_same_decision():
    _, key = conditioned("IsProd", resource="IsDev")
    assert key.condition == frozenset({("condition IsProd", "false")})
    _, key = conditioned("IsProd", resource="Either")
    assert key.condition == frozenset()
    _, key = conditioned("IsProd", resource="Neither")
    assert key is None


# --- StackSets -----------------------------------------------------------------------------------------

STACK_SET = """
Parameters:
  Outer:
    Type: String
Conditions:
  C: !Equals [!Ref Outer, prod]
  D: !Equals [!Ref Outer, test]
Resources:
  Pipelines:
    Type: AWS::CloudFormation::StackSet
    Properties:
      Parameters:
        - ParameterKey: KeyArn
          ParameterValue: {value}
      StackInstancesGroup:
{groups}
      TemplateBody: |
"""
# The StackSet's own template: a parameter with a default of its own, used by its distribution.
STACK_SET_TEMPLATE = "Parameters:\n  KeyArn:\n    Type: String\n    Default: alias/aws/ebs\n" + distribution(
    "KmsKeyId: !Ref KeyArn"
)


def stack_set(
    targets: str,
    value: str = "arn:aws:kms:us-east-1:111122223333:alias/aws/ebs",
    regions: str = "[us-east-1, eu-west-1]",
    groups: str = "",
):
    """The distribution configurations a StackSet with these deployment targets deploys (condition C is
    undecided: parameter Outer has no default; D is another decision on the same parameter); ``groups``
    replaces its one instance group."""
    indented = textwrap.indent(textwrap.dedent(targets).strip(), " " * 12)
    groups = groups or f"        - DeploymentTargets:\n{indented}\n          Regions: {regions}"
    body = STACK_SET.format(groups=groups, value=value) + textwrap.indent(STACK_SET_TEMPLATE, " " * 8)
    return [r for r in load(body) if isinstance(r, DistributionConfiguration)]


def deployed(targets: str, regions: str = "[us-east-1]") -> dict:
    """Account (or "?") and Region of each deployment of the StackSet, with the condition it exists under."""
    return {(d.deployment.account or "?", d.deployment.region): sorted(d.condition) for d in stack_set(targets, regions=regions)}


def test_stack_set_aimed_at_organizational_units_is_read_once_per_region_with_no_account():
    loaded = stack_set("OrganizationalUnitIds: [ou-abcd-12345678]")
    assert [(d.deployment.account, d.deployment.region) for d in loaded] == [(None, "us-east-1"), (None, "eu-west-1")]
    assert loaded[0].deployment.key == "stackset:t.yaml#Pipelines@?/us-east-1"
    assert loaded[0].deployment.account_reference() == AccountOf(loaded[0].deployment.key)
    assert loaded[0].entries[0].kms_key_id.literal == "arn:aws:kms:us-east-1:111122223333:alias/aws/ebs"


def test_stack_set_accounts_the_template_does_not_give_are_one_unknown_account():
    loaded = stack_set("Accounts: [!Ref Outer, '111122223333']")
    assert sorted({d.deployment.account or "?" for d in loaded}) == ["111122223333", "?"]


def test_account_filter_types():
    both = "OrganizationalUnitIds: [ou-abcd-12345678]\nAccounts: ['111122223333']\nAccountFilterType: {}"
    loaded = {kind: stack_set(both.format(kind)) for kind in ("INTERSECTION", "UNION", "DIFFERENCE", "NONE", "")}
    accounts = {kind: sorted({d.deployment.account or "?" for d in found}) for kind, found in loaded.items()}
    assert accounts == {
        "INTERSECTION": ["111122223333"],
        "UNION": ["111122223333", "?"],
        "DIFFERENCE": ["?"],
        "NONE": ["?"],
        "": ["?"],
    }
    # INTERSECTION reaches a listed account only when it is in the units, which the sources do not say.
    assert {d.condition for d in loaded["INTERSECTION"]} == {
        frozenset({("account 111122223333 in organizational unit ou-abcd-12345678", "true")})
    }
    assert all(d.condition == frozenset() for kind in ("UNION", "DIFFERENCE", "NONE") for d in loaded[kind])
    names = {kind: found[0].deployment.name for kind, found in loaded.items()}
    assert names["INTERSECTION"] == (
        "StackSet Pipelines in account 111122223333 if in organizational unit ou-abcd-12345678 (us-east-1)"
    )
    assert names["DIFFERENCE"] == (
        "StackSet Pipelines in the accounts of organizational unit ou-abcd-12345678 but 111122223333 (us-east-1)"
    )
    assert names["NONE"] == "StackSet Pipelines in the accounts of organizational unit ou-abcd-12345678 (us-east-1)"


def test_stack_set_accounts_keep_the_conditions_they_are_listed_under():
    assert deployed("Accounts: !If [C, ['111122223333'], ['555566667777']]") == {
        ("111122223333", "us-east-1"): [("condition C", "true")],
        ("555566667777", "us-east-1"): [("condition C", "false")],
    }
    # An account in every branch is always deployed to; a unit in one branch only under it.
    targets = """\
    Accounts: !If [C, ['111122223333', '555566667777'], ['111122223333']]
    OrganizationalUnitIds: !If [C, !Ref AWS::NoValue, [ou-abcd-12345678]]
    AccountFilterType: UNION"""
    assert deployed(targets) == {
        ("111122223333", "us-east-1"): [],
        ("555566667777", "us-east-1"): [("condition C", "true")],
        ("?", "us-east-1"): [("condition C", "false")],
    }
    # Listed under two decisions: one deployment per condition, never one that drops them.
    found = stack_set("Accounts: !If [C, ['111122223333'], !If [D, ['111122223333'], []]]", regions="[us-east-1]")
    assert sorted((d.deployment.key, sorted(d.condition)) for d in found) == [
        ("stackset:t.yaml#Pipelines@111122223333/us-east-1", [("condition C", "true")]),
        ("stackset:t.yaml#Pipelines@111122223333/us-east-1~1", [("condition C", "false"), ("condition D", "true")]),
    ]


def test_stack_set_regions_and_instance_groups_keep_their_conditions():
    assert deployed("Accounts: ['111122223333']", regions="!If [C, [us-east-1], [eu-west-1]]") == {
        ("111122223333", "us-east-1"): [("condition C", "true")],
        ("111122223333", "eu-west-1"): [("condition C", "false")],
    }
    # The account only when C is true, its Region only when C is false: never deployed to.
    assert deployed("Accounts: !If [C, ['111122223333'], !Ref AWS::NoValue]", regions="!If [C, [], [us-east-1]]") == {}
    group = "        - !If [C, {DeploymentTargets: {Accounts: ['111122223333']}, Regions: [us-east-1]}, !Ref AWS::NoValue]"
    (found,) = stack_set("", groups=group)
    assert found.deployment.account == "111122223333" and found.condition == {("condition C", "true")}
    # The same account in one group or the other: both kept, each under its condition.
    either = "[us-east-1]}, {DeploymentTargets: {Accounts: ['111122223333']}, Regions: [us-east-1]}]"
    found = Estate(stack_set("", groups=group.replace("[us-east-1]}, !Ref AWS::NoValue]", either))).resources.values()
    assert sorted(sorted(d.condition) for d in found) == [[("condition C", "false")], [("condition C", "true")]]


def test_stack_set_parameter_the_template_does_not_give_is_unknown_not_the_inner_default():
    (first, *_) = stack_set("Accounts: ['111122223333']", value="!Ref Outer")
    key = first.entries[0].kms_key_id
    assert isinstance(key, Unknown)
    assert "is set in the Parameters of StackSet Pipelines to a value the template does not give" in key.reason


# --- JSON policies in templates ------------------------------------------------------------------------

BLOCK_POLICY = """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy: {tag}|
        {{
          "Statement": [
            {{"Effect": "Allow", "Principal": {{"AWS": "${{AWS::AccountId}}"}}, "Action": "kms:*", "Resource": "*"}},
              {{"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}}
          ]
        }}
"""


def test_json_policy_in_a_block_scalar_keeps_file_lines_and_columns():
    for tag in ("", "!Sub "):
        (key,) = load(BLOCK_POLICY.format(tag=tag))
        assert isinstance(key, KmsKey) and isinstance(key.policy, MapValue)
        assert key.policy.span.line == 7  # the property, where the string starts
        policy = read_policy(key.policy, key.span)
        allow, deny = policy.statements
        assert (allow.span.line, allow.span.column) == (10, 13)
        assert (deny.span.line, deny.span.column) == (11, 15)
        if tag:
            assert allow.principals[0].account == AccountOf("stack:t.yaml")


def test_json_policy_without_the_files_lines_is_still_read():
    (key,) = load(BLOCK_POLICY.format(tag=""), with_lines=False)
    assert isinstance(key.policy, Text)
    assert [s.span.line for s in read_policy(key.policy, key.span).statements] == [10, 11]


def test_json_policy_string_in_a_json_template_is_at_the_string():
    policy = '{\n "Statement": [\n  {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}\n ]\n}'
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": policy}}}}
    text = json.dumps(template, indent=1)
    root = parse_yaml(text.encode(), "t.json").root
    (key,) = load_template(root, "t.json", Deployment(key="stack:t.json", name="t.json"), lines=text.splitlines())
    (statement,) = read_policy(key.policy, key.span).statements
    assert statement.span == key.policy.span and statement.span.line == 6
