"""The scanned estate: every resource from every file, and how they are wired together.

A recipe and a distribution configuration belong together when an image pipeline or image names
both, by reference or by a literal ARN that matches a defined name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from .model import (
    Deployment,
    DistributionConfiguration,
    ImageBuild,
    ImageLookup,
    ImageRecipe,
    ManagedPolicy,
    Resource,
    Role,
    RolePolicy,
)
from .values import Assumption, Attribute, Text, Unknown, Value, World, holds, is_absent, literal_text, members, select

R = TypeVar("R", bound=Resource)

# The owner alias of Amazon's public AMIs (Amazon Linux, Windows, and the other images Amazon publishes).
_AMAZON_IMAGE_OWNERS = frozenset({"amazon"})
_IMAGEBUILDER_ARN = re.compile(r"^arn:[^:]*:imagebuilder:[^:]*:(?P<owner>[^:]*):(?P<kind>[a-z-]+)/(?P<name>[^/]+)(?:/|$)")


@dataclass(frozen=True)
class Wire:
    """A recipe whose images a distribution configuration distributes, through a pipeline or image."""

    recipe: ImageRecipe
    distribution: DistributionConfiguration
    build: ImageBuild
    condition: Assumption


@dataclass(frozen=True)
class Permissions:
    """A role's identity policies as far as the sources give them."""

    documents: tuple[Value, ...]  # policy documents: inline, attached, and customer managed policies
    managed_arns: tuple[Value, ...]  # managed policy ARNs attached in any form


class Estate:
    def __init__(self, resources: Iterable[Resource], accounts_in_scan: Iterable[str] = ()) -> None:
        self.resources: dict[str, Resource] = {resource.key: resource for resource in resources}
        # Accounts the scan holds sources for even when those sources define nothing a rule reads
        # (a folder the accounts map assigns, a provider that assumes a role in the account).
        self._accounts_in_scan = frozenset(accounts_in_scan)

    def all(self, kind: type[R]) -> list[R]:
        return [resource for resource in self.resources.values() if isinstance(resource, kind)]

    @cached_property
    def deployments(self) -> list[Deployment]:
        seen: dict[str, Deployment] = {}
        for resource in self.resources.values():
            seen.setdefault(resource.deployment.key, resource.deployment)
        return list(seen.values())

    def referenced(self, value: Value | None) -> Resource | None:
        """The resource a value refers to by reference (``!GetAtt X.Arn``, ``aws_x.y.arn``)."""
        if isinstance(value, Text) and isinstance(value.symbol, Attribute):
            return self.resources.get(value.symbol.resource)
        return None

    def named(self, value: Value | None, kind: type[R], arn_kind: str, near: Deployment) -> list[R]:
        """The resources of ``kind`` a value names, by reference or by an Image Builder ARN."""
        resource = self.referenced(value)
        if resource is not None:
            return [resource] if isinstance(resource, kind) else []
        if not isinstance(value, Text):
            return []
        match = _IMAGEBUILDER_ARN.match(value.shape()[0])
        if match is None or match.group("kind") != arn_kind:
            return []
        wanted = match.group("name").lower()
        found = [candidate for candidate in self.all(kind) if _literal_name(candidate).lower().replace(" ", "-") == wanted]
        same_deployment = [candidate for candidate in found if candidate.deployment is near]
        return same_deployment or found

    # -- wiring

    def recipes_built_by(self, build: ImageBuild) -> list[tuple[Assumption, ImageRecipe]]:
        return [
            (assumption, recipe)
            for assumption, value in members(build.recipe)
            for recipe in self.named(value, ImageRecipe, "image-recipe", build.deployment)
        ]

    @cached_property
    def built_recipes(self) -> set[str]:
        """Keys of the recipes some pipeline or image in the scan builds."""
        return {recipe.key for build in self.all(ImageBuild) for _, recipe in self.recipes_built_by(build)}

    @cached_property
    def wires(self) -> list[Wire]:
        wires: list[Wire] = []
        for build in self.all(ImageBuild):
            for recipe_assumption, recipe in self.recipes_built_by(build):
                for distribution_assumption, distribution_value in members(build.distribution):
                    kind = "distribution-configuration"
                    for distribution in self.named(distribution_value, DistributionConfiguration, kind, build.deployment):
                        condition = build.condition | recipe_assumption | distribution_assumption
                        wires.append(Wire(recipe, distribution, build, condition))
        return wires

    def wires_from(self, recipe: ImageRecipe) -> list[Wire]:
        return [wire for wire in self.wires if wire.recipe is recipe]

    def wires_to(self, distribution: DistributionConfiguration) -> list[Wire]:
        return [wire for wire in self.wires if wire.distribution is distribution]

    def is_amazon_owned_image(self, value: Value | None) -> bool:
        """A public image Amazon publishes, hence unencrypted: an Image Builder managed image, an
        ``/aws/service/`` SSM parameter, or an AMI looked up among the images Amazon owns."""
        lookup = self.referenced(value)
        if isinstance(lookup, ImageLookup):
            owners = [literal_text(item) for _, item in members(lookup.owners)]
            return bool(owners) and all(owner in _AMAZON_IMAGE_OWNERS for owner in owners)
        if isinstance(value, Unknown):
            # An SSM parameter or dynamic reference resolved at deploy time still names its public path.
            return "/aws/service/" in value.reason
        if not isinstance(value, Text):
            return False
        shape = value.shape()[0]
        match = _IMAGEBUILDER_ARN.match(shape)
        if match is not None:
            return match.group("owner") == "aws"
        return "/aws/service/" in shape

    # -- accounts and roles

    @cached_property
    def visible_accounts(self) -> set[str]:
        """Accounts some scanned source deploys to (the configuration, a provider, a StackSet), in some branch."""
        return {deployment.account for deployment in self.deployments if deployment.account} | self._accounts_in_scan

    def visible_in(self, account: str, world: World) -> bool:
        """Whether the scan holds sources for the account in this branch of the sources: the configuration
        assigns some to it, or a resource that exists in this branch deploys there (a StackSet may reach an
        account only under a condition)."""
        return account in self._accounts_in_scan or any(
            resource.deployment.account == account and holds(resource.condition, world) for resource in self.resources.values()
        )

    def roles_in(self, account: str) -> list[Role]:
        return [role for role in self.all(Role) if role.deployment.account == account]

    def role_permissions(self, role: Role, world: World) -> Permissions:
        """The role's identity policies as they are in ``world``."""

        def items(value: Value | None) -> list[Value]:
            return [item for _, item in members(select(value, world))]

        documents: list[Value] = [select(document, world) for document in role.inline_policies]
        arns: list[Value] = items(role.managed_policy_arns)
        for attachment in [*self.all(RolePolicy), *self.all(ManagedPolicy)]:
            if not holds(attachment.condition, world):
                continue
            if not any(self._names_role(reference, role, attachment.deployment, world) for reference in items(attachment.roles)):
                continue
            if attachment.document is not None:
                documents.append(select(attachment.document, world))
            if isinstance(attachment, RolePolicy):
                arns.extend(items(attachment.policy_arns))
        # Each ARN with the customer managed policy of the sources it names (None: not in the sources).
        named = [(arn, policy if isinstance(policy := self.referenced(arn), ManagedPolicy) else None) for arn in arns]
        documents.extend(select(policy.document, world) for _, policy in named if policy and policy.document is not None)
        unresolved = tuple(arn for arn, policy in named if policy is None or policy.document is None)
        return Permissions(tuple(document for document in documents if not is_absent(document)), unresolved)

    def _names_role(self, reference: Value, role: Role, near: Deployment, world: World) -> bool:
        referenced = self.referenced(reference)
        if referenced is not None:
            return referenced is role
        name = literal_text(reference)
        own = literal_text(select(role.role_name, world))
        same_account = role.deployment is near or (
            role.deployment.account is not None and role.deployment.account == near.account
        )
        return name is not None and name == own and same_account

    def parent_recipes(self, recipe: ImageRecipe) -> list[tuple[Assumption, ImageRecipe]]:
        """The recipes, in the sources, of the image a recipe builds on."""
        found: list[tuple[Assumption, ImageRecipe]] = []
        for assumption, parent in members(recipe.parent_image):
            referenced = self.referenced(parent)
            if isinstance(referenced, ImageBuild):
                for recipe_assumption, recipe_value in members(referenced.recipe):
                    for parent_recipe in self.named(recipe_value, ImageRecipe, "image-recipe", referenced.deployment):
                        found.append((assumption | recipe_assumption | referenced.condition, parent_recipe))
            else:
                for parent_recipe in self.named(parent, ImageRecipe, "image", recipe.deployment):
                    found.append((assumption, parent_recipe))
        return found


def _literal_name(resource: Resource) -> str:
    name = getattr(resource, "recipe_name", None) or getattr(resource, "configuration_name", None)
    return (name.literal or "") if isinstance(name, Text) else ""
