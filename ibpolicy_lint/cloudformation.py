"""CloudFormation templates into the neutral model.

Intrinsic functions are resolved as far as the template allows: parameters to their defaults (or
to ``--parameter-file`` values), pseudo parameters to symbols of the stack's deployment,
``Fn::If`` over an undecidable condition to a choice of both branches, ``Fn::ImportValue`` and
dynamic references to unknowns with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .documents import DocumentError, json_value, unshaped
from .model import (
    ContainerRecipe,
    Deployment,
    DistributionConfiguration,
    DistributionEntry,
    ImageBuild,
    ImageRecipe,
    KmsAlias,
    KmsKey,
    LaunchPermission,
    ManagedPolicy,
    Resource,
    Role,
    RolePolicy,
    Volume,
)
from .source import Span
from .values import (
    ALIAS_NAME,
    ALWAYS,
    ARN,
    KEY_ID,
    NAME,
    Absent,
    AccountOf,
    Assumption,
    Attribute,
    Choice,
    ListValue,
    MapValue,
    Opaque,
    PartitionOf,
    RegionOf,
    Symbol,
    Text,
    Unknown,
    Value,
    common_conditions,
    concatenate,
    decisions_in,
    field_of,
    holds,
    join_parts,
    literal_text,
    members,
    moved,
    relocated,
    text,
    through_choices,
    worlds,
)

# The bytes that make a file worth parsing as a template, and that make a parse failure worth reporting.
_TEMPLATE_MARKER = re.compile(rb"AWSTemplateFormatVersion|[\"']?Type[\"']?\s*:\s*[\"']?(?:AWS|Custom)::")
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:[^}]*\}\}")
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


# Resource types some rule reads (and suppressions, which must be matched): a template without any
# of them can only be reported for not parsing.
_MAY_MATTER = re.compile(rb"AWS::ImageBuilder::|AWS::KMS::|AWS::IAM::|AWS::CloudFormation::StackSet|ibpolicy-lint")


def _arn_reference(logical_id: str, resource_type: str) -> str:
    """How a template writes a resource's ARN. An alias has no Arn attribute; its Ref is its name."""
    if resource_type == "AWS::KMS::Alias":
        return f"!Sub arn:${{AWS::Partition}}:kms:${{AWS::Region}}:${{AWS::AccountId}}:${{{logical_id}}}"
    return f"!GetAtt {logical_id}.Arn"


def may_matter(data: bytes) -> bool:
    return _MAY_MATTER.search(data) is not None


def looks_like_template(data: bytes) -> bool:
    return _TEMPLATE_MARKER.search(data) is not None


def is_template(root: Value) -> bool:
    """A CloudFormation template: ``AWSTemplateFormatVersion``, or resources typed ``AWS::``/``Custom::``."""
    if not isinstance(root, MapValue):
        return False
    if "AWSTemplateFormatVersion" in root.entries:
        return True
    resources = root.get("Resources")
    if not isinstance(resources, MapValue) or not resources.entries:
        return False
    for resource in resources.entries.values():
        resource_type = field_of(resource, "Type")
        if isinstance(resource_type, Text) and (resource_type.literal or "").startswith(("AWS::", "Custom::")):
            return True
    return False


@dataclass(frozen=True)
class ParameterValue:
    """A parameter value given outside the template (``--parameter-file``, a StackSet's parameters).

    ``value`` is None when the source sets the parameter to a value it does not give (a StackSet
    passing on a parameter of its own template that has no default).
    """

    value: str | None
    source: str


def load_template(
    root: MapValue,
    path: str,
    deployment: Deployment,
    parameter_values: Mapping[str, ParameterValue] | None = None,
    key_prefix: str | None = None,
    lines: list[str] | None = None,
    condition: Assumption = ALWAYS,
) -> list[Resource]:
    """The template's resources that the checks know about, in the neutral model.

    ``lines`` (the file's text) lets a StackSet's inline template report the file's own lines.
    """
    template = _Template(root, deployment, parameter_values or {}, key_prefix or path, lines)
    resources: list[Resource] = []
    for logical_id, (resource_type, raw) in template.resources.items():
        build = _BUILDERS.get(resource_type)
        if build is None and resource_type != STACK_SET:
            continue
        resource_condition = template.resource_condition(raw)
        if resource_condition is None:
            continue
        properties = template.resolve(field_of(raw, "Properties") or MapValue(entries={}, span=raw.span))
        if resource_type == STACK_SET:
            resources.extend(
                _stack_set_resources(logical_id, properties, path, deployment, lines, condition | resource_condition)
            )
            continue
        header = dict(
            key=template.resource_key(logical_id),
            name=logical_id,
            type=resource_type,
            span=root.get("Resources").key_spans.get(logical_id, raw.span),  # type: ignore[union-attr]
            deployment=deployment,
            condition=condition | resource_condition,
            suppressions=_metadata_suppressions(logical_id, raw),
            arn_reference=_arn_reference(logical_id, resource_type),
        )
        resources.append(build(header, properties))
    return resources


STACK_SET = "AWS::CloudFormation::StackSet"


def _metadata_suppressions(logical_id: str, raw: Value) -> tuple:
    """``Metadata: {ibpolicy-lint: {ignore: [{rule: IBP101, reason: …}]}}`` on a resource."""
    from .suppressions import Suppression

    found = []
    for _, item in members(field_of(raw, "Metadata", "ibpolicy-lint", "ignore")):
        rule = literal_text(field_of(item, "rule")) if isinstance(item, MapValue) else literal_text(item)
        if rule:
            reason = literal_text(field_of(item, "reason")) or ""
            found.append(Suppression((rule.strip().upper(),), reason.strip(), item.span, resource=logical_id))
    return tuple(found)


def _stack_set_resources(
    logical_id: str, p: Value, path: str, source: Deployment, lines: list[str] | None, condition: Assumption
) -> list[Resource]:
    """The inline template of a StackSet, loaded once per target account and Region it deploys to.

    Accounts the template does not give (organizational units, a parameter without default) are
    one deployment whose account is not known: what holds in every account is still checked, what
    depends on the account is not decided. An account or Region listed under a condition
    (``Fn::If``) is deployed to under that condition.
    """
    from .documents import parse_yaml

    body = field_of(p, "TemplateBody")
    if not isinstance(body, Text) or body.literal is None:
        return []
    try:
        document = parse_yaml(body.literal.encode("utf-8"), path)
    except DocumentError:
        return []  # the inline template is CloudFormation's to reject; nothing to check in it
    inner = _embedded(document.root, body, lines)
    if not isinstance(inner, MapValue) or not is_template(inner):
        return []
    shared = _parameter_list(field_of(p, "Parameters"), f"the Parameters of StackSet {logical_id}")
    resources: list[Resource] = []
    for index, (group_condition, group) in enumerate(members(field_of(p, "StackInstancesGroup"))):
        overrides = {
            **shared,
            **_parameter_list(field_of(group, "ParameterOverrides"), f"the ParameterOverrides of {logical_id}"),
        }
        regions: dict[str | None, list[Assumption]] = {}
        for assumption, region in members(field_of(group, "Regions")):
            regions.setdefault(literal_text(region), []).append(assumption)
        for target in _stack_set_targets(field_of(group, "DeploymentTargets")):
            account = target.account
            # Per group too: two groups may list one account under different conditions.
            where = (f"@{account}" + (f"+{index}" if index else "")) if account else f"@?{index or ''}"
            for region, region_conditions in (regions or {None: [ALWAYS]}).items():
                for number, (target_condition, region_condition) in enumerate(
                    (a, b) for a in target.conditions for b in _any_of(region_conditions)
                ):
                    key = f"stackset:{path}#{logical_id}{where}/{region or '?'}" + (f"~{number}" if number else "")
                    deployment = Deployment(
                        key=key,
                        name=f"StackSet {logical_id} in {target.description}" + (f" ({region})" if region else ""),
                        account=account,
                        region=region,
                        partition=source.partition,
                        account_label="AWS::AccountId",
                    )
                    deployed = condition | group_condition | target_condition | region_condition
                    if not _consistent(deployed):
                        continue  # listed under one branch, its Region under the other: never deployed
                    resources.extend(load_template(inner, path, deployment, overrides, key, lines, deployed))
    return resources


@dataclass(frozen=True)
class _StackSetTarget:
    """Where a StackSet instance group deploys: one literal account, or (``account`` None) accounts
    the sources do not give; deployed to when any of ``conditions`` holds."""

    account: str | None
    description: str
    conditions: list[Assumption]


def _stack_set_targets(targets: Value | None) -> list[_StackSetTarget]:
    """The accounts a StackSet instance group deploys to, each with the conditions it is listed under.

    ``AccountFilterType`` decides how ``Accounts`` and ``OrganizationalUnitIds`` combine: UNION deploys
    to both; INTERSECTION to the listed accounts that are in the units, which the sources do not tell,
    so each only under that condition; DIFFERENCE to the units' accounts but the listed ones; NONE to the
    units' accounts. Without a filter the listed accounts are not counted either: the API would take
    UNION, but creating a StackSet with both needs a filter, so the sources do not say.
    """
    listed: dict[str, list[Assumption]] = {}
    computed: list[Assumption] = [ALWAYS] if field_of(targets, "AccountsUrl") is not None else []
    for assumption, item in members(field_of(targets, "Accounts")):
        account = (literal_text(item) or "").strip()
        if re.fullmatch(r"\d{12}", account):
            listed.setdefault(account, []).append(assumption)
        else:
            computed.append(assumption)
    units: dict[str, list[Assumption]] = {}
    for assumption, unit in members(field_of(targets, "OrganizationalUnitIds")):
        units.setdefault(literal_text(unit) or "?", []).append(assumption)
    found = [_StackSetTarget(account, f"account {account}", _any_of(conditions)) for account, conditions in listed.items()]
    given = "accounts the template does not give"
    if not units:
        return found + ([_StackSetTarget(None, given, _any_of(computed))] if computed else [])
    in_units = f"organizational unit {', '.join(units)}"
    in_any_unit = [assumption for conditions in units.values() for assumption in conditions]
    unit_conditions = _any_of(in_any_unit)
    filter_type = literal_text(field_of(targets, "AccountFilterType"))
    if filter_type == "UNION":
        also = f" and {given}" if computed else ""
        return found + [_StackSetTarget(None, f"the accounts of {in_units}{also}", _any_of(in_any_unit + computed))]
    if filter_type == "INTERSECTION":
        # Each listed account only if it is in the units: a decision the sources do not take.
        found = [
            _StackSetTarget(
                account,
                f"account {account} if in {in_units}",
                _any_of([a | b | {(f"account {account} in {in_units}", "true")} for a in conditions for b in unit_conditions]),
            )
            for account, conditions in listed.items()
        ]
        if computed:
            either = _any_of([a | b for a in computed for b in unit_conditions])
            found.append(_StackSetTarget(None, f"{given} if in {in_units}", either))
        return found
    but = f" but {', '.join(listed)}" if filter_type == "DIFFERENCE" and listed else ""
    return [_StackSetTarget(None, f"the accounts of {in_units}{but}", unit_conditions)]


def _any_of(assumptions: list[Assumption]) -> list[Assumption]:
    """Assumptions of which any one is enough, as few as tell the same worlds: [ALWAYS] when they
    cover every outcome of the decisions they name, one conjunction when one does, else each."""
    distinct = [assumption for assumption in dict.fromkeys(assumptions) if _consistent(assumption)]
    if len(distinct) < 2 or ALWAYS in distinct:
        return [ALWAYS] if ALWAYS in distinct else distinct
    decisions = decisions_in(*distinct)
    every = worlds(decisions)
    if len(every[0]) < len(decisions):
        return distinct  # too many decisions to enumerate
    chosen = [world for world in every if any(holds(assumption, world) for assumption in distinct)]
    if len(chosen) == len(every):
        return [ALWAYS]
    shared = common_conditions(chosen, every)
    if [world for world in every if holds(frozenset(shared.items()), world)] == chosen:
        return [frozenset(shared.items())]
    return distinct


def _consistent(assumption: Assumption) -> bool:
    """Whether some world takes every outcome of the assumption (no decision with two outcomes)."""
    return len({subject for subject, _ in assumption}) == len(assumption)


def _parameter_list(value: Value | None, where: str) -> dict[str, ParameterValue]:
    """Parameter values a StackSet gives its template; a value it does not give literally is kept as not known."""
    found: dict[str, ParameterValue] = {}
    for _, item in members(value):
        key = literal_text(field_of(item, "ParameterKey"))
        if key:
            found[key] = ParameterValue(literal_text(field_of(item, "ParameterValue")), where)
    return found


def _embedded(value: Value, body: Text, lines: list[str] | None) -> Value:
    """A document read from a string, at the file's own lines and columns when the string is a
    block scalar (its text starts on the next line, indented), else every part at the string."""
    offset = _block_offset(body, lines)
    if offset is None:
        return moved(value, 0, 0, body.span)
    return moved(value, *offset)


def _block_offset(value: Text, lines: list[str] | None) -> tuple[int, int] | None:
    """(lines, columns) from a block scalar's text to the file, or None when the text is not one.

    A YAML block scalar (``|``) starts on the line after its key and loses the indentation of its
    lines; its first non-blank line is then the file's line with that indentation added.
    """
    content = value.shown().split("\n")
    if lines is None or value.origin or len(content) < 2:
        return None
    first = next((number for number, line in enumerate(content) if line.strip()), None)
    if first is None or value.span.line + first >= len(lines):
        return None
    in_file = lines[value.span.line + first]
    if in_file.strip() != content[first].strip():
        return None
    return value.span.line, len(in_file) - len(in_file.lstrip())


# --- building neutral resources ------------------------------------------------------------------


def _image_recipe(header: dict, p: Value) -> Resource:
    volumes = [
        Volume(
            span=item.span,
            device=field_of(item, "DeviceName"),
            encrypted=field_of(item, "Ebs", "Encrypted"),
            kms_key_id=field_of(item, "Ebs", "KmsKeyId"),
            condition=assumption,
        )
        for assumption, item in members(field_of(p, "BlockDeviceMappings"))
        if field_of(item, "Ebs") is not None
    ]
    return ImageRecipe(**header, recipe_name=field_of(p, "Name"), parent_image=field_of(p, "ParentImage"), volumes=volumes)


def _container_recipe(header: dict, p: Value) -> Resource:
    return ContainerRecipe(**header, recipe_name=field_of(p, "Name"))


def _distribution_configuration(header: dict, p: Value) -> Resource:
    entries = []
    for assumption, item in members(field_of(p, "Distributions")):
        ami = field_of(item, "AmiDistributionConfiguration")
        launch = field_of(ami, "LaunchPermissionConfiguration")
        template_accounts = [
            account
            for _, template in members(field_of(item, "LaunchTemplateConfigurations"))
            if (account := field_of(template, "AccountId")) is not None
        ]
        entries.append(
            DistributionEntry(
                span=item.span,
                region=field_of(item, "Region"),
                kms_key_id=field_of(ami, "KmsKeyId"),
                target_account_ids=field_of(ami, "TargetAccountIds"),
                launch_permission=LaunchPermission(
                    user_ids=field_of(launch, "UserIds"),
                    user_groups=field_of(launch, "UserGroups"),
                    organization_arns=field_of(launch, "OrganizationArns"),
                    organizational_unit_arns=field_of(launch, "OrganizationalUnitArns"),
                ),
                launch_template_accounts=template_accounts,
                condition=assumption,
            )
        )
    return DistributionConfiguration(**header, configuration_name=field_of(p, "Name"), entries=entries)


def _image_build(header: dict, p: Value) -> Resource:
    recipe = field_of(p, "ImageRecipeArn") or field_of(p, "ContainerRecipeArn")
    return ImageBuild(**header, recipe=recipe, distribution=field_of(p, "DistributionConfigurationArn"))


def _kms_key(header: dict, p: Value) -> Resource:
    return KmsKey(**header, key_spec=field_of(p, "KeySpec"), key_usage=field_of(p, "KeyUsage"), policy=field_of(p, "KeyPolicy"))


def _replica_key(header: dict, p: Value) -> Resource:
    return KmsKey(**header, policy=field_of(p, "KeyPolicy"), replica_of=field_of(p, "PrimaryKeyArn"))


def _kms_alias(header: dict, p: Value) -> Resource:
    return KmsAlias(**header, alias_name=field_of(p, "AliasName"), target_key=field_of(p, "TargetKeyId"))


def _role(header: dict, p: Value) -> Resource:
    return Role(
        **header,
        role_name=field_of(p, "RoleName"),
        path=field_of(p, "Path"),
        trust_policy=field_of(p, "AssumeRolePolicyDocument"),
        managed_policy_arns=field_of(p, "ManagedPolicyArns"),
        inline_policies=[
            d for _, item in members(field_of(p, "Policies")) if (d := field_of(item, "PolicyDocument")) is not None
        ],
    )


_BUILDERS: dict[str, Callable[[dict, Value], Resource]] = {
    "AWS::ImageBuilder::ImageRecipe": _image_recipe,
    "AWS::ImageBuilder::ContainerRecipe": _container_recipe,
    "AWS::ImageBuilder::DistributionConfiguration": _distribution_configuration,
    "AWS::ImageBuilder::ImagePipeline": _image_build,
    "AWS::ImageBuilder::Image": _image_build,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::ReplicaKey": _replica_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::IAM::Role": _role,
    "AWS::IAM::Policy": lambda h, p: RolePolicy(**h, roles=field_of(p, "Roles"), document=field_of(p, "PolicyDocument")),
    "AWS::IAM::RolePolicy": lambda h, p: RolePolicy(**h, roles=field_of(p, "RoleName"), document=field_of(p, "PolicyDocument")),
    "AWS::IAM::ManagedPolicy": lambda h, p: ManagedPolicy(
        **h, document=field_of(p, "PolicyDocument"), roles=field_of(p, "Roles")
    ),
}

# What ``Ref`` and ``Fn::GetAtt`` give, in neutral attribute names (RULES.md section 1).
_REF_ATTRIBUTE = {
    "AWS::KMS::Key": KEY_ID,
    "AWS::KMS::ReplicaKey": KEY_ID,
    "AWS::KMS::Alias": ALIAS_NAME,
    "AWS::IAM::Role": NAME,
    "AWS::IAM::ManagedPolicy": ARN,
}
_GETATT_ATTRIBUTE = {"Arn": ARN, "KeyId": KEY_ID, "Name": NAME}


# --- intrinsic functions -------------------------------------------------------------------------


# Properties that hold IAM policy documents, which may be given as JSON strings.
_POLICY_DOCUMENTS = frozenset({"KeyPolicy", "AssumeRolePolicyDocument", "PolicyDocument"})

# A condition the template does not decide is true exactly when one decision takes one outcome:
# ("condition IsProd", "true"). ``Condition`` and ``Fn::Not`` chains reduce to the condition they
# start from, so ``IsDev: !Not [!Condition IsProd]`` is ("condition IsProd", "false").
ConditionForm = bool | tuple[str, str]


class _Template:
    def __init__(
        self,
        root: MapValue,
        deployment: Deployment,
        parameter_values: Mapping[str, ParameterValue],
        key_prefix: str,
        lines: list[str] | None = None,
    ) -> None:
        self.deployment = deployment
        self.parameter_values = parameter_values
        self.key_prefix = key_prefix
        self.lines = lines
        self.parameters = _section(root, "Parameters")
        self.mappings = _section(root, "Mappings")
        self.conditions = _section(root, "Conditions")
        self.resources_section = _section(root, "Resources")
        self._mapping_keys: dict[str, list[str]] | None = None
        self.resources: dict[str, tuple[str, Value]] = {}
        for logical_id, raw in self.resources_section.entries.items():
            resource_type = field_of(raw, "Type")
            literal = resource_type.literal if isinstance(resource_type, Text) else None
            self.resources[logical_id] = (literal or "", raw)
        self._condition_forms: dict[str, ConditionForm] = {}
        # Each Fn::Equals a condition is defined as, so the same test written inline (a common
        # ``!Not [!Equals [...]]``) is the same decision.
        self._equals_conditions: dict[frozenset, str] = {}
        for name, definition in self.conditions.entries.items():
            if isinstance(definition, MapValue) and list(definition.entries) == ["Fn::Equals"]:
                key = _equals_key(definition.entries["Fn::Equals"])
                if key is not None:
                    self._equals_conditions.setdefault(key, name)

    def resource_key(self, logical_id: str) -> str:
        return f"{self.key_prefix}#{logical_id}"

    def resource_condition(self, raw: Value) -> Assumption | None:
        """The assumption a resource exists under, or None when its condition is false."""
        name = field_of(raw, "Condition")
        if not isinstance(name, Text) or name.literal is None:
            return ALWAYS
        form = self.condition(name.literal)
        if isinstance(form, bool):
            return ALWAYS if form else None
        return frozenset({form})

    # -- values

    def resolve(self, raw: Value) -> Value:
        if isinstance(raw, Text):
            return _dynamic_references(raw)
        if isinstance(raw, ListValue):
            return ListValue(items=tuple(self.resolve(item) for item in raw.items), span=raw.span)
        if isinstance(raw, MapValue):
            if len(raw.entries) == 1:
                ((name, argument),) = raw.entries.items()
                if name == "Ref" or name.startswith("Fn::"):
                    return self.intrinsic(name, argument, raw.span)
            entries = {}
            for key, value in raw.entries.items():
                resolved = self.resolve(value)
                if key in _POLICY_DOCUMENTS:
                    resolved = self.policy_document(resolved)
                if not isinstance(resolved, Absent):
                    entries[key] = resolved
            return MapValue(entries=entries, key_spans=raw.key_spans, span=raw.span)
        return raw

    def policy_document(self, value: Value) -> Value:
        """A policy given as a JSON string, read here where the file's lines are known: inside a
        block scalar its statements keep their own lines and columns, elsewhere (a one-line string,
        a JSON template's escaped newlines) every part is at the string. Text that is not a JSON
        object is left for the policy reader to report."""
        if self.lines is None or not isinstance(value, Text) or not value.shown().lstrip().startswith("{"):
            return value
        try:
            document = json_value(value)
        except DocumentError:
            return value
        if not isinstance(document, MapValue):
            return value
        placed = _embedded(document, value, self.lines)
        # The document as a whole is the property's value, where the string starts.
        return MapValue(entries=placed.entries, key_spans=placed.key_spans, span=value.span)  # type: ignore[attr-defined]

    def intrinsic(self, name: str, argument: Value, span: Span) -> Value:
        handler = _INTRINSICS.get(name)
        if handler is None:
            return Unknown(reason=f"{name} is not evaluated", span=span)
        return handler(self, argument, span)

    def ref(self, argument: Value, span: Span) -> Value:
        target = literal_text(argument)
        if target is None:
            return Unknown(reason="Ref to a computed name", span=span)
        return self.reference(target, span)

    def reference(self, target: str, span: Span) -> Value:
        """What ``Ref target`` gives: a parameter's value, a pseudo parameter, a resource's Ref value."""
        pseudo = self.pseudo(target, span)
        if pseudo is not None:
            return pseudo
        if target in self.parameters.entries:
            return self.parameter(target, span)
        if target in self.resources:
            resource_type = self.resources[target][0]
            attribute = ARN if resource_type.startswith("AWS::ImageBuilder::") else _REF_ATTRIBUTE.get(resource_type, "ref")
            return Text(parts=(Attribute(self.resource_key(target), attribute, target),), span=span)
        return Unknown(reason=f"Ref to {target}, which the template does not define", span=span)

    def pseudo(self, name: str, span: Span) -> Value | None:
        deployment = self.deployment
        if name == "AWS::AccountId":
            return Text(parts=(deployment.account or AccountOf(deployment.key, name),), span=span)
        if name == "AWS::Region":
            return Text(parts=(deployment.region or RegionOf(deployment.key, name),), span=span)
        if name == "AWS::Partition":
            return Text(parts=(deployment.partition or PartitionOf(deployment.key, name),), span=span)
        if name == "AWS::NoValue":
            return Absent(span=span)
        if name.startswith("AWS::"):
            return Text(parts=(Opaque(f"the pseudo parameter {name}", name),), span=span)
        return None

    def parameter(self, name: str, span: Span) -> Value:
        declaration = self.parameters.entries[name]
        declared_type = literal_text(field_of(declaration, "Type")) or "String"
        where = f"parameter {name} (line {self.parameters.key_spans[name].line})"
        if declared_type.startswith("AWS::SSM::Parameter::Value<"):
            given = self.parameter_values.get(name)
            path = given.value if given else literal_text(field_of(declaration, "Default"))
            named = f" {path}" if path else ""
            return Unknown(reason=f"{where} is read from the SSM parameter{named} at deploy time", span=span)
        given = self.parameter_values.get(name)
        if given is not None:
            raw: str | None = given.value
            origin = f"{where}, set in {given.source}"
            if raw is None:
                return Unknown(reason=f"{where} is set in {given.source} to a value the template does not give", span=span)
        else:
            raw = literal_text(field_of(declaration, "Default"))
            origin = f"the default of {where}"
            if raw is None:
                return Unknown(reason=f"{where} has no default", span=span)
        if declared_type == "CommaDelimitedList" or declared_type.startswith("List<"):
            items = tuple(text(item.strip(), span, origin) for item in raw.split(",")) if raw else ()
            return ListValue(items=items, span=span, origin=origin)
        return text(raw, span, origin)

    def get_att(self, argument: Value, span: Span) -> Value:
        resource, attribute = None, None
        if isinstance(argument, ListValue) and len(argument.items) == 2:
            resource, attribute = literal_text(argument.items[0]), literal_text(self.resolve(argument.items[1]))
        elif isinstance(argument, Text) and argument.literal:
            resource, _, attribute = argument.literal.partition(".")
        if not resource or not attribute or resource not in self.resources:
            return Unknown(reason="Fn::GetAtt of a resource the template does not define", span=span)
        neutral = _GETATT_ATTRIBUTE.get(attribute, attribute)
        return Text(parts=(Attribute(self.resource_key(resource), neutral, f"{resource}.{attribute}"),), span=span)

    def sub(self, argument: Value, span: Span) -> Value:
        variables: dict[str, Value] = {}
        if isinstance(argument, ListValue) and len(argument.items) == 2:
            argument, names = argument.items
            if isinstance(names, MapValue):
                variables = {key: self.resolve(value) for key, value in names.entries.items()}
        template = literal_text(argument)
        if template is None:
            return Unknown(reason="Fn::Sub of a computed string", span=span)
        pieces: list[Value | str] = []
        position = 0
        for match in _SUB_VARIABLE.finditer(template):
            pieces.append(template[position : match.start()])
            position = match.end()
            expression = match.group(1).strip()
            if expression.startswith("!"):
                pieces.append("${" + expression[1:] + "}")
            elif expression in variables:
                pieces.append(variables[expression])
            elif "." in expression and expression.split(".", 1)[0] in self.resources:
                resource, attribute = expression.split(".", 1)
                pieces.append(self.get_att(text(f"{resource}.{attribute}", span), span))
            else:
                pieces.append(self.reference(expression, span))
        pieces.append(template[position:])
        return _joined_text(pieces, span)

    def join(self, argument: Value, span: Span) -> Value:
        if not (isinstance(argument, ListValue) and len(argument.items) == 2):
            return Unknown(reason="malformed Fn::Join", span=span)
        delimiter = literal_text(argument.items[0])
        written = argument.items[1]
        if isinstance(written, ListValue):
            # Literal items as written: dynamic references are read in the joined text, as Fn::Sub reads them.
            kept = tuple(item if isinstance(item, Text) else self.resolve(item) for item in written.items)
            items: Value = ListValue(items=kept, span=written.span)
        else:
            items = self.resolve(written)
        if delimiter is None:
            return Unknown(reason="Fn::Join with a computed delimiter", span=span)

        def joined(items: Value) -> Value:
            if not isinstance(items, ListValue):
                return _unknown_from(items, "Fn::Join of a list the template does not give", span)
            pieces: list[Value | str] = []
            for index, item in enumerate(items.items):
                if index:
                    pieces.append(delimiter)
                pieces.append(item)
            return _joined_text(pieces, span)

        return through_choices([items], lambda resolved: joined(resolved[0]), span)

    def select(self, argument: Value, span: Span) -> Value:
        if not (isinstance(argument, ListValue) and len(argument.items) == 2):
            return Unknown(reason="malformed Fn::Select", span=span)
        index_value = self.resolve(argument.items[0])
        items = self.resolve(argument.items[1])

        def selected(arguments: list[Value]) -> Value:
            index, items = arguments
            number = literal_text(index)
            if not isinstance(items, ListValue) or number is None or not number.strip().isdigit():
                return _unknown_from(items, "Fn::Select from a list the template does not give", span)
            position = int(number)
            if position >= len(items.items):
                return Unknown(reason=f"Fn::Select index {position} is past the end of the list", span=span)
            return items.items[position]

        return through_choices([index_value, items], selected, span)

    def split(self, argument: Value, span: Span) -> Value:
        if not (isinstance(argument, ListValue) and len(argument.items) == 2):
            return Unknown(reason="malformed Fn::Split", span=span)
        delimiter = literal_text(argument.items[0])
        source = self.resolve(argument.items[1])
        if not delimiter:
            return Unknown(reason="Fn::Split with a computed delimiter", span=span)

        def split(source: Value) -> Value:
            if not isinstance(source, Text):
                return _unknown_from(source, "Fn::Split of a value the template does not give", span)
            if not all(_cannot_hold(part, delimiter) for part in source.parts if isinstance(part, Symbol)):
                # Which pieces a resource's ARN or the Region splits into is not known here.
                return Unknown(reason="Fn::Split of a value the template only partly gives", span=span, origin=source.origin)
            pieces: list[list] = [[]]
            for part in source.parts:
                if isinstance(part, str):
                    chunks = part.split(delimiter)
                    pieces[-1].append(chunks[0])
                    pieces.extend([chunk] for chunk in chunks[1:])
                else:
                    pieces[-1].append(part)
            items = tuple(Text(parts=join_parts(piece), span=span, origin=source.origin) for piece in pieces)
            return ListValue(items=items, span=span, origin=source.origin)

        return through_choices([source], lambda resolved: split(resolved[0]), span)

    def find_in_map(self, argument: Value, span: Span) -> Value:
        if not (isinstance(argument, ListValue) and len(argument.items) >= 3):
            return Unknown(reason="malformed Fn::FindInMap", span=span)
        map_name = literal_text(argument.items[0])
        mapping = self.mappings.get(map_name) if map_name else None
        if not isinstance(mapping, MapValue):
            return Unknown(reason=f"Fn::FindInMap of mapping {map_name}, which the template does not define", span=span)
        raw_top, raw_second = argument.items[1], argument.items[2]
        top = self.resolve(raw_top)
        second = self.resolve(raw_second)

        def look_up(keys: list[Value]) -> Value:
            top_key, second_key = (literal_text(key) for key in keys)
            if top_key is None:
                if not isinstance(keys[0], (Text, Unknown)):
                    return Unknown(reason=f"Fn::FindInMap of mapping {map_name} with a key that is not a string", span=span)
                # An unresolved top key (usually the Region): every row of the mapping is possible.
                subject, where = _describe_key(raw_top, keys[0]), f"mapping {map_name}"
                return self.key_choice(subject, mapping, where, lambda row: look_up([text(row, span), keys[1]]), span)
            row = mapping.get(top_key)
            if not isinstance(row, MapValue):
                return Unknown(reason=f"mapping {map_name} has no {top_key}", span=span)
            if second_key is None:
                if isinstance(keys[1], Unknown):
                    return Unknown(reason=keys[1].reason, span=span, origin=keys[1].origin)
                if not isinstance(keys[1], Text):
                    return Unknown(reason=f"Fn::FindInMap of mapping {map_name} with a key that is not a string", span=span)
                # A second key with symbols: every key of the row is possible.
                subject = _describe_key(raw_second, keys[1])
                where = f"mapping {map_name}.{top_key}"
                return self.key_choice(subject, row, where, lambda cell: look_up([keys[0], text(cell, span)]), span)
            found = row.get(second_key)
            if found is None:
                return Unknown(reason=f"mapping {map_name} has no {top_key}/{second_key}", span=span)
            origin = f"mapping {map_name}.{top_key}.{second_key} (line {found.span.line})"
            return relocated(self.resolve(found), span, origin)

        return through_choices([top, second], look_up, span)

    def key_choice(self, subject: str, level: MapValue, where: str, look_up: Callable[[str], Value], span: Span) -> Value:
        """A choice over the keys a computed mapping key may take, ``level`` giving the keys this look-up has.

        Its outcomes are every key that decision takes in any ``Fn::FindInMap`` of the template, so
        two mappings keyed by the Region with different rows agree on what the Region may be; a key
        this mapping lacks is a look-up that fails (unknown), never no value.
        """
        outcomes = list(level.entries)
        outcomes += [key for key in self.mapping_keys().get(subject, ()) if key not in level.entries]
        if not outcomes:
            return Unknown(reason="empty mapping", span=span)

        def branch(key: str) -> Value:
            if key in level.entries:
                return look_up(key)
            return Unknown(reason=f"{where} has no {key}: Fn::FindInMap fails", span=span)

        branches = tuple((key, branch(key)) for key in outcomes)
        return Choice(subject=subject, branches=branches, span=span)

    def mapping_keys(self) -> dict[str, list[str]]:
        """For each computed mapping key (by subject), every key it is looked up with in the template."""
        if self._mapping_keys is not None:
            return self._mapping_keys
        found: dict[str, list[str]] = {}
        self._mapping_keys = found  # a key that is itself a look-up sees what is found so far
        stack: list[Value] = [self.resources_section, self.conditions]
        while stack:  # no recursion: templates may nest deeply
            item = stack.pop()
            if isinstance(item, ListValue):
                stack.extend(reversed(item.items))
            elif isinstance(item, MapValue):
                arguments = item.entries.get("Fn::FindInMap") if len(item.entries) == 1 else None
                if isinstance(arguments, ListValue) and len(arguments.items) >= 3:
                    self._note_mapping_keys(arguments, found)
                stack.extend(reversed(list(item.entries.values())))
        return found

    def _note_mapping_keys(self, arguments: ListValue, found: dict[str, list[str]]) -> None:
        mapping = self.mappings.get(literal_text(arguments.items[0]) or "")
        if not isinstance(mapping, MapValue):
            return
        second_keys = [key for row in mapping.entries.values() if isinstance(row, MapValue) for key in row.entries]
        for raw, keys in ((arguments.items[1], list(mapping.entries)), (arguments.items[2], second_keys)):
            if isinstance(raw, Text) and raw.literal is not None:
                continue
            value = self.resolve(raw)
            if isinstance(value, (Text, Unknown)) and literal_text(value) is None:
                noted = found.setdefault(_describe_key(raw, value), [])
                for key in keys:
                    if key not in noted:
                        noted.append(key)

    def if_(self, argument: Value, span: Span) -> Value:
        if not (isinstance(argument, ListValue) and len(argument.items) == 3):
            return Unknown(reason="malformed Fn::If", span=span)
        name = literal_text(argument.items[0])
        if name is None:
            return Unknown(reason="Fn::If with a computed condition name", span=span)
        form = self.condition(name)
        if isinstance(form, bool):
            return self.resolve(argument.items[1 if form else 2])
        subject, outcome = form
        when_true, when_false = self.resolve(argument.items[1]), self.resolve(argument.items[2])
        if outcome == "false":
            when_true, when_false = when_false, when_true
        return Choice(subject=subject, branches=(("true", when_true), ("false", when_false)), span=span)

    def import_value(self, argument: Value, span: Span) -> Value:
        exported = self.resolve(argument)
        name = exported.literal if isinstance(exported, Text) and exported.literal else "a value"
        return Unknown(reason=f"imported from another stack (Fn::ImportValue {name})", span=span)

    # -- conditions

    def condition(self, name: str, visiting: frozenset[str] = frozenset()) -> ConditionForm:
        """True or False when the template's values decide the condition, else the decision it rests on."""
        if name in self._condition_forms:
            return self._condition_forms[name]
        definition = self.conditions.get(name)
        form = self._evaluate(definition, visiting | {name}) if definition is not None else None
        if form is None:
            form = (f"condition {name}", "true")
        self._condition_forms[name] = form
        return form

    def _evaluate(self, expression: Value, visiting: frozenset[str]) -> ConditionForm | None:
        """The condition an expression states; None when it is undecided and no simpler condition."""
        if not (isinstance(expression, MapValue) and len(expression.entries) == 1):
            return None
        ((function, argument),) = expression.entries.items()
        operands = list(argument.items) if isinstance(argument, ListValue) else [argument]
        if function == "Condition":
            name = literal_text(argument)
            if not name or name in visiting:
                return None
            return self.condition(name, visiting)
        if function == "Fn::Equals" and len(operands) == 2:
            left, right = (self.resolve(operand) for operand in operands)
            left_text, right_text = _comparable(left), _comparable(right)
            if left_text is not None and right_text is not None:
                return left_text == right_text
            same_test = self._equals_conditions.get(_equals_key(argument))
            if same_test is None or same_test in visiting:
                return None
            return self.condition(same_test, visiting)
        results = [self._evaluate(operand, visiting) for operand in operands]
        if function == "Fn::Not" and len(results) == 1:
            result = results[0]
            if result is None or isinstance(result, bool):
                return None if result is None else not result
            return (result[0], "false" if result[1] == "true" else "true")
        if function in ("Fn::And", "Fn::Or"):
            return _combine(function == "Fn::And", results)
        return None


_INTRINSICS: dict[str, Callable[[_Template, Value, Span], Value]] = {
    "Ref": _Template.ref,
    "Fn::GetAtt": _Template.get_att,
    "Fn::Sub": _Template.sub,
    "Fn::Join": _Template.join,
    "Fn::Select": _Template.select,
    "Fn::Split": _Template.split,
    "Fn::FindInMap": _Template.find_in_map,
    "Fn::If": _Template.if_,
    "Fn::ImportValue": _Template.import_value,
}


def _section(root: MapValue, name: str) -> MapValue:
    section = root.get(name)
    return section if isinstance(section, MapValue) else MapValue(entries={}, span=root.span)


def _comparable(value: Value) -> str | None:
    if isinstance(value, ListValue):
        texts = [literal_text(item) for item in value.items]
        return None if None in texts else ",".join(texts)  # type: ignore[arg-type]
    return literal_text(value)


def _combine(conjunction: bool, results: list[ConditionForm | None]) -> ConditionForm | None:
    """``Fn::And`` (conjunction) or ``Fn::Or`` of conditions, when they rest on one decision at most."""
    if any(result is (not conjunction) for result in results):
        return not conjunction  # a false operand decides Fn::And, a true one Fn::Or
    undecided = [result for result in results if not isinstance(result, bool)]
    if not undecided:
        return conjunction
    if None in undecided or len({form[0] for form in undecided}) > 1:  # type: ignore[index]
        return None
    if len(set(undecided)) == 1:
        return undecided[0]
    return not conjunction  # both outcomes of one decision: never both, always one


def _equals_key(argument: Value) -> frozenset | None:
    """The two operands of an ``Fn::Equals`` as written, in either order; None when not comparable."""
    if not (isinstance(argument, ListValue) and len(argument.items) == 2):
        return None
    written = [_written(operand) for operand in argument.items]
    return None if None in written else frozenset(written)


def _written(value: Value) -> object:
    """A value as the template writes it, for comparing expressions: None for what cannot be compared."""
    if isinstance(value, MapValue):
        entries = tuple((key, _written(child)) for key, child in value.entries.items())
        return None if any(child is None for _, child in entries) else ("map", entries)
    if isinstance(value, ListValue):
        items = tuple(_written(child) for child in value.items)
        return None if None in items else ("list", items)
    literal = literal_text(value)
    return None if literal is None else ("text", literal)


def _describe_key(raw: Value, value: Text | Unknown) -> str:
    """How a finding names the decision a computed mapping key stands for: the key as written."""
    if isinstance(value, Text):
        return "AWS::Region" if isinstance(value.symbol, RegionOf) else value.shown()
    target = literal_text(field_of(raw, "Ref")) if isinstance(raw, MapValue) else None
    return f"parameter {target}" if target else value.reason


def _cannot_hold(symbol: Symbol, delimiter: str) -> bool:
    """Whether a symbol's value certainly holds no delimiter: an account ID has only digits, a
    Region or partition name only lower-case letters, digits and hyphens."""
    if isinstance(symbol, AccountOf):
        return not any(character.isdigit() for character in delimiter)
    if isinstance(symbol, (RegionOf, PartitionOf)):
        return not any(character in _REGION_CHARACTERS for character in delimiter)
    return False


_REGION_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _joined_text(pieces: list[Value | str], span: Span) -> Value:
    """The text ``Fn::Sub`` and ``Fn::Join`` build, read for dynamic references once it is whole: a
    reference may hold a variable (``{{resolve:ssm:/${Env}/key}}``) or be split across items."""
    return _dynamic_references(concatenate(pieces, span))


def _dynamic_references(value: Value) -> Value:
    """``{{resolve:...}}`` in a text is a part the template does not give (and the whole text, alone)."""
    if isinstance(value, Choice):
        branches = tuple((outcome, _dynamic_references(branch)) for outcome, branch in value.branches)
        return Choice(subject=value.subject, branches=branches, span=value.span, origin=value.origin)
    if not isinstance(value, Text) or not any(isinstance(part, str) and "{{resolve:" in part for part in value.parts):
        return value
    shape, symbols = value.shape()
    pieces: list = []
    position = 0
    for match in _DYNAMIC_REFERENCE.finditer(shape):
        pieces.extend(unshaped(shape[position : match.start()], symbols))
        written = Text(parts=unshaped(match.group(0), symbols), span=value.span).shown()
        pieces.append(Opaque(f"dynamic reference {written}", written))
        position = match.end()
    pieces.extend(unshaped(shape[position:], symbols))
    parts = join_parts(pieces)
    if len(parts) == 1 and isinstance(parts[0], Opaque):
        return Unknown(reason=f"resolved at deploy time ({parts[0].reason})", span=value.span, origin=value.origin)
    return Text(parts=parts, span=value.span, origin=value.origin)


def _unknown_from(value: Value, reason: str, span: Span) -> Unknown:
    if isinstance(value, Unknown):
        return Unknown(reason=value.reason, span=span, origin=value.origin)
    return Unknown(reason=reason, span=span)
