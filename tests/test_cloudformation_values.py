"""Values the CloudFormation loader gives the model: StackSet targets and parameters, conditions as one
decision, mapping keys, Fn::Split, dynamic references, JSON policies in block scalars."""

from __future__ import annotations

import json
import textwrap

from ibpolicy_lint.cloudformation import load_template
from ibpolicy_lint.documents import json_value, parse_yaml
from ibpolicy_lint.iam import Caller, Tri, applies, document_value, read_policy
from ibpolicy_lint.model import Deployment, DistributionConfiguration, ImageRecipe, KmsKey
from ibpolicy_lint.source import Span
from ibpolicy_lint.values import AccountOf, Choice, ListValue, MapValue, Opaque, RegionOf, Text, Unknown


def load(body: str, with_lines: bool = True):
    text = "AWSTemplateFormatVersion: '2010-09-09'\n" + textwrap.dedent(body)
    root = parse_yaml(text.encode(), "t.yaml").root
    deployment = Deployment(key="stack:t.yaml", name="t.yaml")
    lines = text.splitlines() if with_lines else None
    return load_template(root, "t.yaml", deployment, lines=lines)


def recipe_volume(body: str):
    recipe = next(r for r in load(body) if isinstance(r, ImageRecipe))
    return recipe.volumes[0]


def recipe_key(value: str, preamble: str = ""):
    body = preamble + textwrap.dedent(f"""
        Resources:
          Key:
            Type: AWS::KMS::Key
          Recipe:
            Type: AWS::ImageBuilder::ImageRecipe
            Properties:
              BlockDeviceMappings:
                - DeviceName: /dev/xvda
                  Ebs:
                    KmsKeyId: {value}
        """)
    return recipe_volume(body).kms_key_id


# --- StackSets ------------------------------------------------------------------------------------

STACK_SET = """
Parameters:
  Outer:
    Type: String
Resources:
  Pipelines:
    Type: AWS::CloudFormation::StackSet
    Properties:
      Parameters:
        - ParameterKey: KeyArn
          ParameterValue: {value}
      StackInstancesGroup:
        - DeploymentTargets:
{targets}
          Regions: [us-east-1, eu-west-1]
      TemplateBody: |
        Parameters:
          KeyArn:
            Type: String
            Default: alias/aws/ebs
        Resources:
          Distribution:
            Type: AWS::ImageBuilder::DistributionConfiguration
            Properties:
              Distributions:
                - Region: us-east-1
                  AmiDistributionConfiguration:
                    KmsKeyId: !Ref KeyArn
"""


def stack_set(targets: str, value: str = "arn:aws:kms:us-east-1:111122223333:alias/aws/ebs"):
    indented = textwrap.indent(textwrap.dedent(targets).strip(), " " * 12)
    return [r for r in load(STACK_SET.format(targets=indented, value=value)) if isinstance(r, DistributionConfiguration)]


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
    accounts = {
        kind: sorted({d.deployment.account or "?" for d in stack_set(both.format(kind))})
        for kind in ("INTERSECTION", "UNION", "DIFFERENCE", "NONE")
    }
    assert accounts == {"INTERSECTION": ["111122223333"], "UNION": ["111122223333", "?"], "DIFFERENCE": ["?"], "NONE": ["?"]}


def test_stack_set_parameter_the_template_does_not_give_is_unknown_not_the_inner_default():
    (first, *_) = stack_set("Accounts: ['111122223333']", value="!Ref Outer")
    key = first.entries[0].kms_key_id
    assert isinstance(key, Unknown)
    assert "is set in the Parameters of StackSet Pipelines to a value the template does not give" in key.reason


# --- conditions -----------------------------------------------------------------------------------


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
Resources:
  Key:
    Type: AWS::KMS::Key
    Condition: {resource}
  Recipe:
    Type: AWS::ImageBuilder::ImageRecipe
    Properties:
      BlockDeviceMappings:
        - DeviceName: /dev/xvda
          Ebs:
            KmsKeyId: !If [{name}, managed, customer]
"""


def conditioned(name: str, resource: str = "IsProd"):
    resources = {r.name: r for r in load(CONDITIONS.format(name=name, resource=resource))}
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
    resources = {r.name for r in load(CONDITIONS.format(name="IsProd", resource="Neither"))}
    assert "Key" not in resources


# --- Fn::FindInMap, Fn::Split, dynamic references --------------------------------------------------

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
    body = MAPPINGS + textwrap.dedent("""
        Resources:
          Distribution:
            Type: AWS::ImageBuilder::DistributionConfiguration
            Properties:
              Distributions:
                - Region: us-east-1
                  AmiDistributionConfiguration:
                    TargetAccountIds: !FindInMap [Accounts, prod, Targets]
        """)
    (distribution,) = load(body)
    targets = distribution.entries[0].target_account_ids
    assert isinstance(targets, ListValue)
    assert {item.span for item in targets.items} == {targets.span}
    assert all(item.origin.startswith("mapping Accounts.prod.Targets") for item in targets.items)


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


# --- principals and JSON policies ----------------------------------------------------------------


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


def test_json_value_keeps_symbols_and_document_value_places_one_line_strings_at_the_string():
    span = Span("p.tf", 7, 3, 7, 40)
    value = Text(parts=('{"Statement": [{"Principal": {"AWS": "arn:aws:iam::', AccountOf("d"), ':root"}}]}'), span=span)
    tree = json_value(value)
    principal = tree.get("Statement").items[0].get("Principal").get("AWS")
    assert principal.parts == ("arn:aws:iam::", AccountOf("d"), ":root") and principal.span.line == 1
    placed = document_value(value)
    assert placed.get("Statement").items[0].span == span
    assert isinstance(document_value(Text(parts=("{not json",), span=span)), Unknown)


def test_mappings_keyed_by_the_same_decision_share_its_outcomes():
    encryption = "  Encryption:\n    us-east-1: {On: 'true'}\n    ap-south-2: {On: 'true'}\n"
    mappings = MAPPINGS.replace("Mappings:\n", "Mappings:\n" + encryption)
    body = mappings + textwrap.dedent("""
        Resources:
          Recipe:
            Type: AWS::ImageBuilder::ImageRecipe
            Properties:
              BlockDeviceMappings:
                - DeviceName: /dev/xvda
                  Ebs:
                    Encrypted: !FindInMap [Encryption, !Ref AWS::Region, On]
                    KmsKeyId: !FindInMap [Keys, !Ref AWS::Region, prod]
        """)
    volume = recipe_volume(body)
    for value in (volume.encrypted, volume.kms_key_id):
        assert isinstance(value, Choice) and value.subject == "AWS::Region"
        assert sorted(outcome for outcome, _ in value.branches) == ["ap-south-2", "eu-west-1", "us-east-1"]
    missing = dict(volume.kms_key_id.branches)["ap-south-2"]
    assert isinstance(missing, Unknown) and missing.reason == "mapping Keys has no ap-south-2: Fn::FindInMap fails"
