"""The neutral model: what CloudFormation and Terraform sources both describe.

Loaders build these objects; checks read only them. Every field that comes from the sources is a
``Value`` (known, unknown or a choice) with its span. An entity that exists only in some branches
(a CloudFormation ``Condition``, a Terraform ``count``) carries that ``condition``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span
from .values import ALWAYS, AccountOf, Assumption, Value


@dataclass(eq=False)
class Deployment:
    """Where a group of resources is deployed: a CloudFormation stack, a Terraform provider configuration."""

    key: str
    name: str
    account: str | None = None  # the literal account ID, when the sources or the configuration say it
    region: str | None = None
    partition: str | None = None
    # How the sources name this deployment's account when its ID is not given (fixes quote it).
    account_label: str = "source account ID"

    def account_reference(self) -> str | AccountOf:
        """The literal account ID, or a symbol standing for this deployment's account."""
        return self.account or AccountOf(self.key, self.account_label)


@dataclass(eq=False, kw_only=True)
class Resource:
    key: str  # unique in the estate
    name: str  # as the user writes it: "GoldenRecipe", "aws_kms_key.ami"
    type: str  # the source's type name, for messages: "AWS::KMS::Key"
    span: Span
    deployment: Deployment
    condition: Assumption = ALWAYS
    suppressions: tuple = ()  # declared on the resource itself (CloudFormation Metadata)
    arn_reference: str = ""  # how its sources write its ARN, for fixes: "!GetAtt Key.Arn", "aws_kms_key.k.arn"


@dataclass(eq=False, kw_only=True)
class Volume:
    span: Span
    device: Value | None
    encrypted: Value | None
    kms_key_id: Value | None
    condition: Assumption = ALWAYS


@dataclass(eq=False, kw_only=True)
class ImageRecipe(Resource):
    recipe_name: Value | None
    parent_image: Value | None
    volumes: list[Volume] = field(default_factory=list)


@dataclass(eq=False, kw_only=True)
class ContainerRecipe(Resource):
    """Container images go to ECR: no AMI rule applies, but pipelines may name them."""

    recipe_name: Value | None


@dataclass(eq=False, kw_only=True)
class LaunchPermission:
    user_ids: Value | None = None
    user_groups: Value | None = None
    organization_arns: Value | None = None
    organizational_unit_arns: Value | None = None


@dataclass(eq=False, kw_only=True)
class DistributionEntry:
    span: Span
    region: Value | None
    kms_key_id: Value | None
    target_account_ids: Value | None
    launch_permission: LaunchPermission
    launch_template_accounts: list[Value] = field(default_factory=list)
    condition: Assumption = ALWAYS


@dataclass(eq=False, kw_only=True)
class DistributionConfiguration(Resource):
    configuration_name: Value | None
    entries: list[DistributionEntry] = field(default_factory=list)


@dataclass(eq=False, kw_only=True)
class ImageBuild(Resource):
    """An image pipeline or a one-off image: it ties a recipe to a distribution configuration."""

    recipe: Value | None
    distribution: Value | None


@dataclass(eq=False, kw_only=True)
class KmsKey(Resource):
    key_spec: Value | None = None
    key_usage: Value | None = None
    policy: Value | None = None
    replica_of: Value | None = None  # a replica key's primary key ARN


@dataclass(eq=False, kw_only=True)
class KmsAlias(Resource):
    alias_name: Value | None
    target_key: Value | None


@dataclass(eq=False, kw_only=True)
class KmsGrant(Resource):
    """A grant on a key (Terraform ``aws_kms_grant``): the grantee may perform the operations."""

    key_reference: Value | None
    grantee: Value | None
    operations: Value | None


@dataclass(eq=False, kw_only=True)
class KeyLookup(Resource):
    """A key found at plan time by its ID, ARN or alias (Terraform ``data "aws_kms_key"``)."""

    lookup: Value | None


@dataclass(eq=False, kw_only=True)
class ImageLookup(Resource):
    """An AMI found at plan time by owner and filters (Terraform ``data "aws_ami"``)."""

    owners: Value | None


@dataclass(eq=False, kw_only=True)
class Role(Resource):
    role_name: Value | None = None
    name_prefix: Value | None = None  # Terraform: a generated name starting with this
    path: Value | None = None
    trust_policy: Value | None = None
    managed_policy_arns: Value | None = None
    inline_policies: list[Value] = field(default_factory=list)  # policy documents


@dataclass(eq=False, kw_only=True)
class RolePolicy(Resource):
    """Permissions given to roles by a separate resource: an inline document or managed policy ARNs."""

    roles: Value | None  # role names or references
    document: Value | None = None
    policy_arns: Value | None = None


@dataclass(eq=False, kw_only=True)
class ManagedPolicy(Resource):
    """A customer managed policy: referenced by ARN, and possibly attached to roles directly."""

    document: Value | None
    roles: Value | None = None


@dataclass(eq=False, kw_only=True)
class EbsEncryptionByDefault(Resource):
    """Account-level EBS encryption by default in the deployment's Region."""

    enabled: Value | None


@dataclass(eq=False, kw_only=True)
class EbsDefaultKey(Resource):
    """The account's default EBS key in the deployment's Region."""

    default_key: Value | None
