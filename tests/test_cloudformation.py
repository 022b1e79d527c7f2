"""The CloudFormation loader: intrinsic functions resolved into the neutral model."""

from __future__ import annotations

import textwrap

from ibpolicy_lint.cloudformation import ParameterValue, is_template, load_template
from ibpolicy_lint.documents import parse_yaml
from ibpolicy_lint.model import Deployment, DistributionConfiguration, ImageRecipe
from ibpolicy_lint.values import KEY_ID, AccountOf, Attribute, Choice, ListValue, RegionOf, Text, Unknown


def load(body: str, parameters: dict | None = None):
    text = "AWSTemplateFormatVersion: '2010-09-09'\n" + textwrap.dedent(body)
    root = parse_yaml(text.encode(), "t.yaml").root
    deployment = Deployment(key="stack:t.yaml", name="t.yaml")
    return {resource.name: resource for resource in load_template(root, "t.yaml", deployment, parameters)}


def recipe_key(body: str, parameters: dict | None = None):
    resources = load(body, parameters)
    recipe = next(r for r in resources.values() if isinstance(r, ImageRecipe))
    return recipe.volumes[0].kms_key_id


RECIPE = """
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
"""


def test_is_template():
    assert is_template(parse_yaml(b"AWSTemplateFormatVersion: 2010-09-09\n", "t").root)
    assert is_template(parse_yaml(b"Resources: {A: {Type: 'AWS::S3::Bucket'}}", "t").root)
    assert is_template(parse_yaml(b"Resources: {A: {Type: 'Custom::Thing'}}", "t").root)
    assert not is_template(parse_yaml(b"Resources: {A: {Type: 'kubernetes'}}", "t").root)
    assert not is_template(parse_yaml(b"repos: []", "t").root)


def test_sub_with_pseudo_parameters_keeps_symbols():
    value = recipe_key(RECIPE.format(value="!Sub 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/ebs'"))
    assert isinstance(value, Text)
    assert value.parts[-1] == ":alias/aws/ebs"
    assert RegionOf("stack:t.yaml") in value.parts and AccountOf("stack:t.yaml") in value.parts
    assert value.shown() == "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/ebs"


def test_ref_to_a_key_is_its_key_id():
    value = recipe_key(RECIPE.format(value="!Ref Key"))
    assert value.symbol == Attribute("t.yaml#Key", KEY_ID)


def test_sub_variable_map_and_getatt_inside_sub():
    value = recipe_key(RECIPE.format(value="!Sub ['${Arn}', {Arn: !GetAtt Key.Arn}]"))
    assert value.symbol == Attribute("t.yaml#Key", "arn")
    value = recipe_key(RECIPE.format(value="!Sub 'arn:aws:kms:us-east-1:111122223333:key/${Key}'"))
    assert value.parts[-1] == Attribute("t.yaml#Key", KEY_ID)


def test_parameter_default_and_override():
    body = "Parameters:\n  K: {Type: String, Default: alias/aws/ebs}\n" + RECIPE.format(value="!Ref K")
    value = recipe_key(body)
    assert value.literal == "alias/aws/ebs"
    assert value.origin == "the default of parameter K (line 3)"
    assert value.span.line == 14  # where the recipe uses it, not the default
    overridden = recipe_key(body, {"K": ParameterValue("alias/golden", "prod.json")})
    assert overridden.literal == "alias/golden" and "prod.json" in overridden.origin


def test_parameter_without_default_and_ssm_parameter_are_unknown():
    body = "Parameters:\n  K: {Type: String}\n" + RECIPE.format(value="!Ref K")
    assert isinstance(recipe_key(body), Unknown)
    body = "Parameters:\n  K: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /keys/ami}\n" + RECIPE.format(value="!Ref K")
    value = recipe_key(body)
    assert isinstance(value, Unknown) and "SSM" in value.reason


def test_import_value_and_dynamic_reference_are_unknown():
    assert "Fn::ImportValue shared-key" in recipe_key(RECIPE.format(value="!ImportValue shared-key")).reason
    value = recipe_key(RECIPE.format(value="'{{resolve:ssm:/keys/ami}}'"))
    assert isinstance(value, Unknown) and "resolve:ssm" in value.reason


def test_join_select_split():
    value = recipe_key(RECIPE.format(value="!Join ['/', [alias, aws, ebs]]"))
    assert value.literal == "alias/aws/ebs"
    value = recipe_key(RECIPE.format(value="!Select [1, !Split [',', 'alias/a,alias/aws/ebs']]"))
    assert value.literal == "alias/aws/ebs"


def test_find_in_map_with_unknown_region_is_a_choice_over_rows():
    body = """\
    Mappings:
      Keys:
        us-east-1: {Volume: alias/aws/ebs}
        eu-west-1: {Volume: alias/golden}
    """
    body = textwrap.dedent(body) + RECIPE.format(value="!FindInMap [Keys, !Ref 'AWS::Region', Volume]")
    value = recipe_key(body)
    assert isinstance(value, Choice) and value.subject == "AWS::Region"
    assert {outcome: branch.literal for outcome, branch in value.branches} == {
        "us-east-1": "alias/aws/ebs",
        "eu-west-1": "alias/golden",
    }


def test_if_over_undecidable_condition_is_a_choice_and_decided_condition_is_not():
    body = """\
    Parameters:
      Env: {Type: String}
      Mode: {Type: String, Default: prod}
    Conditions:
      IsDev: !Equals [!Ref Env, dev]
      IsProd: !Equals [!Ref Mode, prod]
    """
    body = textwrap.dedent(body)
    choice = recipe_key(body + RECIPE.format(value="!If [IsDev, alias/aws/ebs, !GetAtt Key.Arn]"))
    assert isinstance(choice, Choice) and choice.subject == "condition IsDev"
    decided = recipe_key(body + RECIPE.format(value="!If [IsProd, alias/aws/ebs, !GetAtt Key.Arn]"))
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
    resources = load(body)
    assert "Gone" not in resources
    assert resources["Maybe"].condition == frozenset({("condition IsDev", "true")})


def test_distribution_entries_with_no_value_and_conditional_items():
    body = """
    Parameters:
      Env: {Type: String}
    Conditions:
      IsDev: !Equals [!Ref Env, dev]
    Resources:
      Dist:
        Type: AWS::ImageBuilder::DistributionConfiguration
        Properties:
          Distributions:
            - Region: us-east-1
              AmiDistributionConfiguration:
                KmsKeyId: !Ref AWS::NoValue
                TargetAccountIds: [!If [IsDev, !Ref AWS::NoValue, '111122223333']]
            - !If [IsDev, {Region: eu-west-1}, !Ref AWS::NoValue]
    """
    dist = load(body)["Dist"]
    assert isinstance(dist, DistributionConfiguration)
    first, second = dist.entries
    assert first.kms_key_id is None
    assert isinstance(first.target_account_ids, ListValue)
    assert second.condition == frozenset({("condition IsDev", "true")})
    assert second.region.literal == "eu-west-1"
