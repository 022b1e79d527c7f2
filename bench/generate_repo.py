"""A synthetic infrastructure repository for the benchmark, the same bytes for the same seed and size.

Most files are ordinary infrastructure (S3 buckets, security groups, VPC pieces, queues, tables) in
CloudFormation (YAML and JSON) and Terraform (module folders and root stacks that call them). About
1% of the files define Image Builder pipelines, KMS keys or IAM roles: some wired correctly, some with
the cross-account mistakes ibpolicy-lint reports, so a run that finds nothing has read nothing.

    python bench/generate_repo.py OUT_DIR [--files 10000] [--seed 8] [--module-tree]

It prints a JSON object: the counts of ``describe``, the ``sha256`` of ``write`` and ``cloudformation``, the
templates' paths relative to OUT_DIR. bench/run.py runs it as a child process, so that the repository is
never held in the benchmark's own memory (see measure.py on the floor of peak RSS).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

RELEVANT_SHARE = 0.01
# Chances per generated unit: a CloudFormation template is one file, a Terraform folder three or four,
# so this gives roughly 45% CloudFormation files and 55% Terraform files.
CFN_UNIT_CHANCE = 0.74
TF_MODULE_UNIT_CHANCE = 0.10  # the rest are root stacks that call the modules

TEAMS = ["payments", "search", "identity", "media", "ledger", "catalog", "billing", "growth", "ops", "data"]
ENVS = ["dev", "staging", "prod"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
WORDS = [
    "orders", "events", "reports", "assets", "uploads", "exports", "audit", "metrics", "cache", "thumbnails",
    "invoices", "sessions", "archive", "ingest", "staging", "backups", "feeds", "profiles", "logs", "jobs",
]  # fmt: skip


@dataclass
class Repository:
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text
    cloudformation: list[str] = field(default_factory=list)  # the templates cfn-lint is given
    relevant: list[str] = field(default_factory=list)  # files that define or wire Image Builder/KMS/IAM

    def add(self, path: str, text: str, *, cloudformation: bool = False, relevant: bool = False) -> None:
        self.files[path] = text
        if cloudformation:
            self.cloudformation.append(path)
        if relevant:
            self.relevant.append(path)


def account(rng: random.Random) -> str:
    return str(rng.randrange(100000000000, 999999999999))


def name(rng: random.Random, *parts: str) -> str:
    return "-".join([*parts, rng.choice(WORDS), str(rng.randrange(10, 99))])


def camel(text: str) -> str:
    return "".join(piece[:1].upper() + piece[1:] for piece in text.replace("_", "-").split("-") if piece)


# ---------------------------------------------------------------- CloudFormation, ordinary resources


def cfn_resources(rng: random.Random, count: int) -> dict[str, dict]:
    """Logical ID -> resource, as plain data; intrinsic functions in long form (rendered per format later)."""
    resources: dict[str, dict] = {}
    vpc_id = None
    while len(resources) < count:
        kind = rng.choice(["bucket", "bucket", "sg", "vpc", "queue", "topic", "table", "loggroup", "param"])
        suffix = camel(rng.choice(WORDS)) + str(len(resources))
        if kind == "bucket":
            encryption = (
                {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "DataKeyArn"}}
                if rng.random() < 0.15
                else {"SSEAlgorithm": "AES256"}
            )
            resources[f"Bucket{suffix}"] = {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {"Fn::Sub": "${AWS::StackName}-" + rng.choice(WORDS) + "-${Environment}"},
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": encryption}]},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },  # fmt: skip
                    "LifecycleConfiguration": {
                        "Rules": [{"Id": "expire-old", "Status": "Enabled", "ExpirationInDays": rng.choice([30, 90, 365])}]
                    },
                    "Tags": [{"Key": "team", "Value": rng.choice(TEAMS)}, {"Key": "env", "Value": {"Ref": "Environment"}}],
                },
            }
        elif kind == "sg":
            ports = rng.sample([22, 80, 443, 5432, 6379, 8080, 8443, 9090], rng.randrange(1, 4))
            resources[f"SecurityGroup{suffix}"] = {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": f"{rng.choice(WORDS)} service traffic",
                    "VpcId": {"Ref": "VpcId"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "CidrIp": f"10.{rng.randrange(256)}.0.0/16"}
                        for p in ports
                    ],
                    "Tags": [{"Key": "Name", "Value": {"Fn::Sub": "${AWS::StackName}-sg"}}],
                },
            }
        elif kind == "vpc":
            vpc_id = f"Vpc{suffix}"
            octet = rng.randrange(256)
            resources[vpc_id] = {
                "Type": "AWS::EC2::VPC",
                "Properties": {"CidrBlock": f"10.{octet}.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True},
            }
            for index in range(rng.randrange(1, 4)):
                resources[f"Subnet{suffix}x{index}"] = {
                    "Type": "AWS::EC2::Subnet",
                    "Properties": {
                        "VpcId": {"Ref": vpc_id},
                        "CidrBlock": f"10.{octet}.{index * 16}.0/20",
                        "AvailabilityZone": {"Fn::Select": [index, {"Fn::GetAZs": ""}]},
                    },
                }
            resources[f"RouteTable{suffix}"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": vpc_id}}}
            resources[f"Gateway{suffix}"] = {"Type": "AWS::EC2::InternetGateway", "Properties": {}}
            resources[f"GatewayAttachment{suffix}"] = {
                "Type": "AWS::EC2::VPCGatewayAttachment",
                "Properties": {"VpcId": {"Ref": vpc_id}, "InternetGatewayId": {"Ref": f"Gateway{suffix}"}},
            }
            resources[f"DefaultRoute{suffix}"] = {
                "Type": "AWS::EC2::Route",
                "DependsOn": f"GatewayAttachment{suffix}",
                "Properties": {
                    "RouteTableId": {"Ref": f"RouteTable{suffix}"},
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "GatewayId": {"Ref": f"Gateway{suffix}"},
                },
            }
        elif kind == "queue":
            resources[f"Queue{suffix}"] = {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "VisibilityTimeout": rng.choice([30, 60, 300]),
                    "MessageRetentionPeriod": 1209600,
                    "SqsManagedSseEnabled": True,
                },
            }
        elif kind == "topic":
            resources[f"Topic{suffix}"] = {
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": {"Fn::Sub": "${AWS::StackName} " + rng.choice(WORDS)}},
            }
        elif kind == "table":
            resources[f"Table{suffix}"] = {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "sk", "AttributeType": "S"},
                    ],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                },
            }
        elif kind == "loggroup":
            resources[f"LogGroup{suffix}"] = {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": {"Fn::Sub": "/app/${Environment}/" + rng.choice(WORDS)},
                    "RetentionInDays": rng.choice([7, 30, 90, 365]),
                },
            }
        else:
            resources[f"Parameter{suffix}"] = {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": {"Fn::Sub": "/${Environment}/" + rng.choice(WORDS) + "/endpoint"},
                    "Type": "String",
                    "Value": f"https://{rng.choice(WORDS)}.internal.example.com",
                },
            }
    return resources


def cfn_template(rng: random.Random, resources: dict[str, dict], extra_parameters: dict | None = None) -> dict:
    parameters: dict[str, dict] = {
        "Environment": {"Type": "String", "AllowedValues": ENVS, "Default": "dev"},
        "VpcId": {"Type": "AWS::EC2::VPC::Id", "Description": "The VPC the service runs in"},
        "DataKeyArn": {"Type": "String", "Default": "", "Description": "Optional KMS key for data at rest"},
    }
    parameters.update(extra_parameters or {})
    outputs = {
        f"{logical_id}Ref": {"Value": {"Ref": logical_id}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-" + logical_id}}}
        for logical_id in list(resources)[: rng.randrange(1, 4)]
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{rng.choice(TEAMS)} {rng.choice(WORDS)} infrastructure",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    }


SHORT_FORMS = {"Ref": "!Ref", "Fn::Sub": "!Sub", "Fn::GetAtt": "!GetAtt", "Fn::Select": "!Select", "Fn::GetAZs": "!GetAZs"}


def yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if (
        text == ""
        or text[0] in "!&*{}[]|>%@`#'\",?:-"
        or ": " in text
        or text.lower() in ("yes", "no", "on", "off", "true", "false", "null")
    ):
        return json.dumps(text)
    if text.replace(".", "").replace("-", "").isdigit():
        return json.dumps(text)  # account IDs and versions keep their text
    return text


def to_yaml(value: object, indent: int = 0) -> str:
    """Block-style YAML with the short intrinsic-function tags people write (!Ref, !Sub, !GetAtt)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        lines = []
        for key, item in value.items():
            if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in SHORT_FORMS:
                function, argument = next(iter(item.items()))
                tag = SHORT_FORMS[function]
                if isinstance(argument, str | int):
                    lines.append(f"{pad}{key}: {tag} {yaml_scalar(argument)}\n")
                    continue
                if function == "Fn::GetAtt" and isinstance(argument, list):
                    lines.append(f"{pad}{key}: {tag} {'.'.join(argument)}\n")
                    continue
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {inline_yaml(item)}\n")
        return "".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict) and item and not (len(item) == 1 and next(iter(item)) in SHORT_FORMS):
                body = to_yaml(item, indent + 1)
                lines.append(f"{pad}- {body.lstrip()}")
            else:
                lines.append(f"{pad}- {inline_yaml(item)}\n")
        return "".join(lines)
    return pad + inline_yaml(value) + "\n"


def inline_yaml(value: object) -> str:
    if isinstance(value, dict):
        if not value:
            return "{}"
        function, argument = next(iter(value.items()))
        if len(value) == 1 and function in SHORT_FORMS:
            if isinstance(argument, list):
                return f"{SHORT_FORMS[function]} [{', '.join(inline_yaml(a) for a in argument)}]"
            return f"{SHORT_FORMS[function]} {yaml_scalar(argument)}"
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(inline_yaml(item) for item in value) + "]"
    return yaml_scalar(value)


def render_cfn(template: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(template, indent=2) + "\n"
    return to_yaml(template)


# ---------------------------------------------------------------- CloudFormation, Image Builder / KMS / IAM


def key_policy(source: str, targets: list[str], *, grant_targets: bool) -> dict:
    statements: list[dict] = [
        {
            "Sid": "RootAccess",
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if grant_targets:
        statements.append(
            {
                "Sid": "TargetAccounts",
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{t}:root" for t in targets]},
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                "Resource": "*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def cfn_image_builder(rng: random.Random) -> dict:
    source = account(rng)
    targets = [account(rng) for _ in range(rng.randrange(1, 3))]
    mistake = rng.choice(["managed-key", "key-policy", "none", "none"])
    resources: dict[str, dict] = {
        "ImageKey": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": "AMI encryption",
                "EnableKeyRotation": True,
                "KeyPolicy": key_policy(source, targets, grant_targets=mistake != "key-policy"),
            },
        },
        "InstanceRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
                },
                "ManagedPolicyArns": [
                    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
                    "arn:aws:iam::aws:policy/EC2InstanceProfileForImageBuilder",
                ],
            },
        },
        "InstanceProfile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "InstanceRole"}]}},
        "Infrastructure": {
            "Type": "AWS::ImageBuilder::InfrastructureConfiguration",
            "Properties": {
                "Name": {"Fn::Sub": "${AWS::StackName}-infra"},
                "InstanceProfileName": {"Ref": "InstanceProfile"},
                "InstanceTypes": ["t3.medium"],
            },
        },
        "Recipe": {
            "Type": "AWS::ImageBuilder::ImageRecipe",
            "Properties": {
                "Name": {"Fn::Sub": "${AWS::StackName}-recipe"},
                "Version": f"1.{rng.randrange(10)}.0",
                "ParentImage": {
                    "Fn::Sub": "arn:${AWS::Partition}:imagebuilder:${AWS::Region}:aws:image/amazon-linux-2023-x86/x.x.x"
                },
                "Components": [
                    {
                        "ComponentArn": {
                            "Fn::Sub": "arn:${AWS::Partition}:imagebuilder:${AWS::Region}:aws:component/update-linux/x.x.x"
                        }
                    }
                ],
                "BlockDeviceMappings": [
                    {
                        "DeviceName": "/dev/xvda",
                        "Ebs": {
                            "Encrypted": True,
                            "VolumeSize": 30,
                            "VolumeType": "gp3",
                            "KmsKeyId": "alias/aws/ebs" if mistake == "managed-key" else {"Fn::GetAtt": ["ImageKey", "Arn"]},
                        },
                    }
                ],
            },
        },
        "Distribution": {
            "Type": "AWS::ImageBuilder::DistributionConfiguration",
            "Properties": {
                "Name": {"Fn::Sub": "${AWS::StackName}-distribution"},
                "Distributions": [
                    {
                        "Region": {"Ref": "AWS::Region"},
                        "AmiDistributionConfiguration": {
                            "Name": "golden-{{ imagebuilder:buildDate }}",
                            "KmsKeyId": {"Fn::GetAtt": ["ImageKey", "Arn"]},
                            "TargetAccountIds": targets,
                        },
                    }
                ],
            },
        },
        "Pipeline": {
            "Type": "AWS::ImageBuilder::ImagePipeline",
            "Properties": {
                "Name": {"Fn::Sub": "${AWS::StackName}-pipeline"},
                "ImageRecipeArn": {"Ref": "Recipe"},
                "InfrastructureConfigurationArn": {"Ref": "Infrastructure"},
                "DistributionConfigurationArn": {"Ref": "Distribution"},
                "Schedule": {"ScheduleExpression": "cron(0 4 ? * MON *)"},
            },
        },
    }
    return resources


def cfn_key_or_role(rng: random.Random) -> dict:
    """A template with only a KMS key or an IAM role: relevant to the linter, not an Image Builder stack."""
    if rng.random() < 0.5:
        return {
            "SharedKey": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "EnableKeyRotation": True,
                    "KeyPolicy": key_policy(account(rng), [account(rng)], grant_targets=True),
                },
            },
            "SharedKeyAlias": {
                "Type": "AWS::KMS::Alias",
                "Properties": {"AliasName": f"alias/{rng.choice(WORDS)}", "TargetKeyId": {"Ref": "SharedKey"}},
            },
        }
    return {
        "DistributionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "EC2ImageBuilderDistributionCrossAccountRole",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{account(rng)}:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/Ec2ImageBuilderCrossAccountDistributionAccess"],
            },
        }
    }


# ---------------------------------------------------------------- Terraform


def tf_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(tf_value(v) for v in value) + "]"
    text = str(value)
    if text.startswith(("var.", "local.", "aws_", "data.", "module.")):
        return text
    return json.dumps(text)


def tf_block(header: str, body: list[str]) -> str:
    return header + " {\n" + "".join(f"  {line}\n" for line in body) + "}\n"


def tf_ordinary_module(rng: random.Random) -> tuple[dict[str, str], list[str]]:
    blocks: list[str] = []
    variables = {"name": "string", "environment": "string", "tags": "map(string)"}
    outputs: dict[str, str] = {}
    for index in range(rng.randrange(2, 7)):
        kind = rng.choice(["bucket", "bucket", "sg", "vpc", "queue", "topic", "table", "loggroup"])
        label = f"{rng.choice(WORDS)}_{index}"
        if kind == "bucket":
            blocks.append(tf_block(f'resource "aws_s3_bucket" "{label}"', [
                f'bucket = "${{var.name}}-{label.replace("_", "-")}-${{var.environment}}"',
                "tags   = var.tags",
            ]))  # fmt: skip
            blocks.append(tf_block(f'resource "aws_s3_bucket_versioning" "{label}"', [
                f"bucket = aws_s3_bucket.{label}.id",
                "versioning_configuration {\n    status = \"Enabled\"\n  }",
            ]))  # fmt: skip
            if rng.random() < 0.15:
                variables["data_key_arn"] = "string"
                rule = 'sse_algorithm     = "aws:kms"\n      kms_master_key_id = var.data_key_arn'
            else:
                rule = 'sse_algorithm = "AES256"'
            blocks.append(tf_block(f'resource "aws_s3_bucket_server_side_encryption_configuration" "{label}"', [
                f"bucket = aws_s3_bucket.{label}.id",
                "rule {\n    apply_server_side_encryption_by_default {\n      " + rule + "\n    }\n  }",
            ]))  # fmt: skip
            blocks.append(tf_block(f'resource "aws_s3_bucket_public_access_block" "{label}"', [
                f"bucket                  = aws_s3_bucket.{label}.id",
                "block_public_acls       = true",
                "block_public_policy     = true",
                "ignore_public_acls      = true",
                "restrict_public_buckets = true",
            ]))  # fmt: skip
            outputs[f"{label}_bucket_arn"] = f"aws_s3_bucket.{label}.arn"
        elif kind == "sg":
            variables["vpc_id"] = "string"
            ingress = "".join(
                f'\n  ingress {{\n    from_port   = {p}\n    to_port     = {p}\n    protocol    = "tcp"\n'
                f'    cidr_blocks = ["10.{rng.randrange(256)}.0.0/16"]\n  }}\n'
                for p in rng.sample([22, 80, 443, 5432, 6379, 8080], rng.randrange(1, 4))
            )
            blocks.append(
                f'resource "aws_security_group" "{label}" {{\n  name_prefix = "${{var.name}}-{label}"\n'
                f"  vpc_id      = var.vpc_id\n{ingress}\n  egress {{\n    from_port   = 0\n    to_port     = 0\n"
                '    protocol    = "-1"\n    cidr_blocks = ["0.0.0.0/0"]\n  }\n\n  tags = var.tags\n}\n'
            )
            outputs[f"{label}_security_group_id"] = f"aws_security_group.{label}.id"
        elif kind == "vpc":
            variables["cidr"] = "string"
            variables["azs"] = "list(string)"
            blocks.append(tf_block(f'resource "aws_vpc" "{label}"', [
                "cidr_block           = var.cidr", "enable_dns_hostnames = true", "enable_dns_support   = true",
                "tags                 = merge(var.tags, { Name = var.name })",
            ]))  # fmt: skip
            blocks.append(tf_block(f'resource "aws_subnet" "{label}_private"', [
                "count             = length(var.azs)",
                f"vpc_id            = aws_vpc.{label}.id",
                "cidr_block        = cidrsubnet(var.cidr, 4, count.index)",
                "availability_zone = var.azs[count.index]",
                'tags              = merge(var.tags, { Tier = "private" })',
            ]))  # fmt: skip
            blocks.append(tf_block(f'resource "aws_internet_gateway" "{label}"', [f"vpc_id = aws_vpc.{label}.id"]))
            blocks.append(tf_block(f'resource "aws_route_table" "{label}_public"', [
                f"vpc_id = aws_vpc.{label}.id",
                f'route {{\n    cidr_block = "0.0.0.0/0"\n    gateway_id = aws_internet_gateway.{label}.id\n  }}',
            ]))  # fmt: skip
            outputs[f"{label}_vpc_id"] = f"aws_vpc.{label}.id"
            outputs[f"{label}_private_subnet_ids"] = f"aws_subnet.{label}_private[*].id"
        elif kind == "queue":
            blocks.append(tf_block(f'resource "aws_sqs_queue" "{label}"', [
                f'name                       = "${{var.name}}-{label}"',
                f"visibility_timeout_seconds = {rng.choice([30, 60, 300])}",
                "message_retention_seconds  = 1209600",
                "sqs_managed_sse_enabled    = true",
                "tags                       = var.tags",
            ]))  # fmt: skip
            outputs[f"{label}_queue_url"] = f"aws_sqs_queue.{label}.url"
        elif kind == "topic":
            blocks.append(tf_block(f'resource "aws_sns_topic" "{label}"', [f'name = "${{var.name}}-{label}"', "tags = var.tags"]))
        elif kind == "table":
            blocks.append(tf_block(f'resource "aws_dynamodb_table" "{label}"', [
                f'name         = "${{var.name}}-{label}"',
                'billing_mode = "PAY_PER_REQUEST"',
                'hash_key     = "pk"',
                'range_key    = "sk"',
                'attribute {\n    name = "pk"\n    type = "S"\n  }',
                'attribute {\n    name = "sk"\n    type = "S"\n  }',
                "point_in_time_recovery {\n    enabled = true\n  }",
                "tags = var.tags",
            ]))  # fmt: skip
        else:
            blocks.append(tf_block(f'resource "aws_cloudwatch_log_group" "{label}"', [
                f'name              = "/app/${{var.environment}}/{label}"',
                f"retention_in_days = {rng.choice([7, 30, 90, 365])}",
                "tags              = var.tags",
            ]))  # fmt: skip
    variables_tf = "\n".join(
        tf_block(f'variable "{var}"', [f"type        = {kind}", f'description = "The {var.replace("_", " ")}."'])
        for var, kind in variables.items()
    )
    outputs_tf = "\n".join(tf_block(f'output "{key}"', [f"value = {value}"]) for key, value in outputs.items())
    return {
        "main.tf": "\n".join(blocks),
        "variables.tf": variables_tf,
        "outputs.tf": outputs_tf or "# no outputs\n",
        "versions.tf": VERSIONS_TF,
    }, sorted(variables)


VERSIONS_TF = """terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}
"""


def tf_stack(rng: random.Random, modules: list[tuple[str, list[str]]], depth: int, env: str, region: str) -> dict[str, str]:
    up = "../" * depth
    calls = []
    for module_path, variables in modules:
        inputs = []
        for var in variables:
            value = {
                "name": f'"{rng.choice(TEAMS)}-{rng.choice(WORDS)}"',
                "environment": "var.environment",
                "tags": "local.tags",
                "vpc_id": "var.vpc_id",
                "cidr": f'"10.{rng.randrange(256)}.0.0/16"',
                "azs": f'["{region}a", "{region}b"]',
                "data_key_arn": "var.data_key_arn",
                "target_account_ids": "var.share_with_accounts",
            }.get(var, "null")
            inputs.append(f"{var} = {value}")
        calls.append(
            tf_block(f'module "{module_path.split("/")[-1].replace("-", "_")}"', [f'source = "{up}{module_path}"', *inputs])
        )
    main = (
        f'provider "aws" {{\n  region = "{region}"\n}}\n\n'
        + tf_block("locals", [f'tags = {{ environment = var.environment, region = "{region}" }}'])
        + "\n"
        + "\n".join(calls)
    )
    variables = "\n".join([
        tf_block('variable "environment"', [f'default = "{env}"']),
        tf_block('variable "vpc_id"', ['type    = string', 'default = ""']),
        tf_block('variable "data_key_arn"', ['type    = string', 'default = ""']),
        tf_block('variable "share_with_accounts"', ["type    = list(string)", "default = []"]),
    ])  # fmt: skip
    backend = tf_block("terraform", [
        f'backend "s3" {{\n    bucket = "tfstate-{env}"\n    key    = "{region}/{rng.choice(WORDS)}.tfstate"\n'
        f'    region = "{region}"\n  }}'
    ])  # fmt: skip
    return {"main.tf": main, "variables.tf": variables, "backend.tf": backend}


def tf_image_builder_module(rng: random.Random) -> dict[str, str]:
    mistake = rng.choice(["managed-key", "key-policy", "none", "none"])
    kms_key = '"alias/aws/ebs"' if mistake == "managed-key" else "aws_kms_key.image.arn"
    target_statement = (
        ""
        if mistake == "key-policy"
        else """      {
        Sid       = "TargetAccounts"
        Effect    = "Allow"
        Principal = { AWS = [for id in var.target_account_ids : "arn:aws:iam::${id}:root"] }
        Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
"""
    )
    kms_tf = f"""data "aws_caller_identity" "current" {{}}

resource "aws_kms_key" "image" {{
  description         = "AMI encryption for ${{var.name}}"
  enable_key_rotation = true
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [
      {{
        Sid       = "Root"
        Effect    = "Allow"
        Principal = {{ AWS = "arn:aws:iam::${{data.aws_caller_identity.current.account_id}}:root" }}
        Action    = "kms:*"
        Resource  = "*"
      }},
{target_statement}    ]
  }})
}}

resource "aws_kms_alias" "image" {{
  name          = "alias/${{var.name}}-ami"
  target_key_id = aws_kms_key.image.key_id
}}
"""
    iam_tf = """resource "aws_iam_role" "builder" {
  name = "${var.name}-image-builder"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "builder" {
  for_each = toset([
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/EC2InstanceProfileForImageBuilder",
  ])
  role       = aws_iam_role.builder.name
  policy_arn = each.value
}

resource "aws_iam_instance_profile" "builder" {
  name = "${var.name}-image-builder"
  role = aws_iam_role.builder.name
}
"""
    main_tf = f"""resource "aws_imagebuilder_image_recipe" "golden" {{
  name         = "${{var.name}}-golden"
  version      = "1.{rng.randrange(10)}.0"
  parent_image = "arn:aws:imagebuilder:${{var.region}}:aws:image/amazon-linux-2023-x86/x.x.x"

  component {{
    component_arn = "arn:aws:imagebuilder:${{var.region}}:aws:component/update-linux/x.x.x"
  }}

  block_device_mapping {{
    device_name = "/dev/xvda"
    ebs {{
      encrypted   = true
      volume_size = 30
      volume_type = "gp3"
      kms_key_id  = {kms_key}
    }}
  }}
}}

resource "aws_imagebuilder_infrastructure_configuration" "golden" {{
  name                  = "${{var.name}}-golden"
  instance_profile_name = aws_iam_instance_profile.builder.name
  instance_types        = ["t3.medium"]
}}

resource "aws_imagebuilder_distribution_configuration" "golden" {{
  name = "${{var.name}}-golden"

  distribution {{
    region = var.region
    ami_distribution_configuration {{
      name               = "golden-{{{{ imagebuilder:buildDate }}}}"
      kms_key_id         = aws_kms_key.image.arn
      target_account_ids = var.target_account_ids
    }}
  }}
}}

resource "aws_imagebuilder_image_pipeline" "golden" {{
  name                             = "${{var.name}}-golden"
  image_recipe_arn                 = aws_imagebuilder_image_recipe.golden.arn
  infrastructure_configuration_arn = aws_imagebuilder_infrastructure_configuration.golden.arn
  distribution_configuration_arn   = aws_imagebuilder_distribution_configuration.golden.arn
}}
"""
    variables_tf = "\n".join([
        tf_block('variable "name"', ["type = string"]),
        tf_block('variable "region"', ["type = string", 'default = "us-east-1"']),
        tf_block('variable "target_account_ids"', [
            "type    = list(string)", f'default = ["{account(rng)}", "{account(rng)}"]'
        ]),
    ])  # fmt: skip
    return {"main.tf": main_tf, "kms.tf": kms_tf, "iam.tf": iam_tf, "variables.tf": variables_tf, "versions.tf": VERSIONS_TF}


# ---------------------------------------------------------------- the repository


def generate(total_files: int, seed: int = 8) -> Repository:
    rng = random.Random(seed)
    repo = Repository()
    relevant_target = max(3, round(total_files * RELEVANT_SHARE))
    relevant_cfn = relevant_target * 2 // 5  # one file each
    relevant_tf_modules = max(1, (relevant_target - relevant_cfn) // 6)  # 4 relevant files + a caller stack each

    for index in range(relevant_cfn):
        team = rng.choice(TEAMS)
        path = f"cloudformation/{team}/images/{name(rng, 'ami')}-{index}.yaml"
        resources = cfn_image_builder(rng) if index % 3 != 2 else cfn_key_or_role(rng)
        template = cfn_template(rng, resources)
        repo.add(path, render_cfn(template, "yaml"), cloudformation=True, relevant=True)

    image_modules = []
    for index in range(relevant_tf_modules):
        folder = f"terraform/modules/platform/image-builder-{index}"
        for filename, text in tf_image_builder_module(rng).items():
            repo.add(f"{folder}/{filename}", text, relevant=filename != "versions.tf")
        image_modules.append((folder.removeprefix("terraform/"), ["name", "target_account_ids"]))

    ordinary_modules: list[tuple[str, list[str]]] = []
    stack_index = 0
    callers = 0  # root stacks that call an Image Builder module
    while len(repo.files) < total_files:
        remaining = total_files - len(repo.files)
        roll = rng.random()
        if roll < CFN_UNIT_CHANCE or remaining < 4:
            team = rng.choice(TEAMS)
            env = rng.choice(ENVS)
            fmt = rng.choices(["yaml", "yml", "json"], weights=[70, 10, 20])[0]
            depth = rng.randrange(3)
            nested = "/".join(rng.choice(WORDS) for _ in range(depth))
            path = f"cloudformation/{team}/{env}/{nested + '/' if nested else ''}{name(rng, team)}-{len(repo.files)}.{fmt}"
            template = cfn_template(rng, cfn_resources(rng, rng.randrange(2, 12)))
            repo.add(path, render_cfn(template, fmt), cloudformation=True)
        elif roll < CFN_UNIT_CHANCE + TF_MODULE_UNIT_CHANCE or not ordinary_modules:
            area = rng.choice(TEAMS)
            folder = f"terraform/modules/{area}/{name(rng, area)}-{len(ordinary_modules)}"
            files, variables = tf_ordinary_module(rng)
            for filename, text in files.items():
                repo.add(f"{folder}/{filename}", text)
            ordinary_modules.append((folder.removeprefix("terraform/"), variables))
        else:
            env, region = rng.choice(ENVS), rng.choice(REGIONS)
            folder = f"terraform/live/{env}/{region}/{rng.choice(TEAMS)}-{rng.choice(WORDS)}-{stack_index}"
            stack_index += 1
            called = rng.sample(ordinary_modules, min(len(ordinary_modules), rng.randrange(1, 4)))
            relevant = bool(image_modules) and stack_index % 20 == 0 and callers < len(image_modules)
            callers += relevant
            if relevant:
                called.append(image_modules[stack_index % len(image_modules)])
            for filename, text in tf_stack(rng, called, depth=4, env=env, region=region).items():
                repo.add(f"{folder}/{filename}", text, relevant=relevant and filename == "main.tf")
            if rng.random() < 0.3:
                repo.add(f"{folder}/terraform.tfvars", f'environment = "{env}"\nvpc_id      = "vpc-{rng.randrange(16**8):08x}"\n')
    return repo


def generate_module_tree(total_files: int = 200, seed: int = 8) -> Repository:
    """Only ordinary Terraform (issue 3): modules of 4 files and stacks of 3 that call them, no Image
    Builder, KMS or IAM resource anywhere, so the pre-filter should let nothing through to the parser."""
    rng = random.Random(seed)
    repo = Repository()
    modules: list[tuple[str, list[str]]] = []

    def add_module() -> None:
        folder = f"modules/{rng.choice(TEAMS)}-{len(modules)}"
        files, variables = tf_ordinary_module(rng)
        for filename, text in files.items():
            repo.add(f"{folder}/{filename}", text)
        modules.append((folder, variables))

    def add_stack() -> None:
        env, region = rng.choice(ENVS), rng.choice(REGIONS)
        called = rng.sample(modules, min(len(modules), rng.randrange(1, 4)))
        for filename, text in tf_stack(rng, called, depth=3, env=env, region=region).items():
            repo.add(f"live/{env}/{region}/stack-{len(repo.files)}/{filename}", text)

    add_module()
    while total_files - len(repo.files) > 12:
        if rng.random() < 0.5:
            add_module()
        else:
            add_stack()
    # 9 to 12 files left: make up exactly that many from modules (4) and stacks (3).
    finish = {9: "SSS", 10: "MSS", 11: "MMS", 12: "MMM"}.get(total_files - len(repo.files), "")
    for unit in finish:
        if unit == "M":
            add_module()
        else:
            add_stack()
    return repo


def write(repo: Repository, root: Path) -> str:
    """Write the files under ``root``; returns a digest of all paths and contents (same seed, same digest)."""
    digest = hashlib.sha256()
    for relative in sorted(repo.files):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        data = repo.files[relative].encode()
        target.write_bytes(data)
        digest.update(relative.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def describe(repo: Repository) -> dict:
    sizes = [len(text.encode()) for text in repo.files.values()]
    terraform = [p for p in repo.files if p.endswith((".tf", ".tfvars"))]
    return {
        "files": len(repo.files),
        "bytes": sum(sizes),
        "cloudformation_files": len(repo.cloudformation),
        "terraform_files": len(terraform),
        "terraform_folders": len({p.rsplit("/", 1)[0] for p in terraform}),
        "relevant_files": len(repo.relevant),
        "relevant_share": round(len(repo.relevant) / max(1, len(repo.files)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--module-tree", action="store_true", help="only ordinary Terraform (generate_module_tree)")
    args = parser.parse_args()
    repo = generate_module_tree(args.files, args.seed) if args.module_tree else generate(args.files, args.seed)
    digest = write(repo, args.out)
    print(json.dumps({**describe(repo), "sha256": digest, "cloudformation": repo.cloudformation}, indent=2))


if __name__ == "__main__":
    main()
