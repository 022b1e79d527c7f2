"""Terraform plan JSON (``terraform show -json``) as a resolved configuration.

A plan records the values Terraform will apply, but not values known only after apply (ARNs) and
not source lines. When the configuration's HCL is in the scan, the plan's variable values feed the
HCL evaluation (findings point at HCL lines); otherwise the planned resources are read directly:
a value the plan leaves out is restored as a reference when the configuration says it is another
planned resource's attribute, and is otherwise known only after apply (``resource_changes[].change
.after_unknown``). Findings then point into the plan file and name resource addresses.
"""

from __future__ import annotations

import re

from .model import Deployment, Resource
from .values import (
    Attribute,
    ListValue,
    MapValue,
    Text,
    Unknown,
    Value,
    as_bool,
    field_of,
    is_absent,
    literal_text,
    members,
    relocated,
)

_INDEX = re.compile(r"\[[^\]]*\]$")


def is_plan(data: bytes) -> bool:
    return b'"planned_values"' in data and b'"format_version"' in data


def plan_variables(root: MapValue, display: str) -> dict[str, Value]:
    """The variable values the plan was made with."""
    values: dict[str, Value] = {}
    variables = root.get("variables")
    if not isinstance(variables, MapValue):
        return values
    for name, entry in variables.entries.items():
        value = entry.get("value") if isinstance(entry, MapValue) else None
        if value is not None:
            values[name] = relocated(value, value.span, f"the value of {name} in the plan {display} (line {value.span.line})")
    return values


def load_plan(root: MapValue, display: str, configured_account: str | None = None) -> list[Resource]:
    """The planned resources. ``configured_account``: the account the configuration's accounts map gives the
    plan's folder, for its default provider."""
    from .terraform import _BUILDERS, in_region  # the same builders as HCL

    configuration = field_of(root, "configuration")
    providers = _providers(configuration, display, configured_account)
    changes = {_text(field_of(change, "address")): change for change in _list(root, "resource_changes")}
    regional: dict[str, Deployment] = {}
    resources: list[Resource] = []
    for module, config_module in _modules(
        field_of(root, "planned_values", "root_module"), field_of(configuration, "root_module")
    ):
        planned = _list(module, "resources")
        addresses = {_text(field_of(item, "address")) for item in planned}
        config_resources = {_text(field_of(item, "address")): item for item in _list(config_module, "resources")}
        module_address = _text(field_of(module, "address"))
        prefix = f"{module_address}." if module_address else ""
        for item in planned:
            mode = "data" if _text(field_of(item, "mode")) == "data" else "resource"
            resource_type = _text(field_of(item, "type"))
            build = _BUILDERS.get((mode, resource_type))
            if build is None:
                continue
            address = _text(field_of(item, "address"))
            config = config_resources.get(_INDEX.sub("", address[len(prefix) :]))
            values = field_of(item, "values")
            values = values if isinstance(values, MapValue) else MapValue(entries={}, span=item.span)
            unknown = field_of(changes.get(address), "change", "after_unknown")
            values = _Completion(display, prefix, addresses, address).of(values, field_of(config, "expressions"), unknown, "")
            provider_key = _text(field_of(config, "provider_config_key")) or resource_type.split("_", 1)[0]
            deployment = providers.get(provider_key) or providers.setdefault(
                provider_key,
                Deployment(
                    key=f"plan:{display}:{provider_key}",
                    name=f"provider {provider_key} of the plan {display}",
                    account=_default_account(provider_key, configured_account),
                ),
            )
            region = field_of(values, "region")  # a resource's own Region (AWS provider v6 plans give every resource one)
            if isinstance(region, Text) and region.literal:
                deployment = in_region(deployment, region.literal, address, regional)
            elif region is not None and not is_absent(region):  # known only after apply: not the provider's Region
                deployment = in_region(deployment, None, address, regional)
            header = dict(
                key=f"{display}::{address}",
                name=address,
                type=resource_type,
                span=item.span,
                deployment=deployment,
                arn_reference=f"{address}.arn",
            )
            resources.append(build(header, values))
    return resources


def _providers(configuration: Value | None, display: str, configured_account: str | None) -> dict[str, Deployment]:
    """The plan's provider configurations, read as the HCL loader reads provider blocks."""
    from .terraform import provider_settings

    found: dict[str, Deployment] = {}
    providers = field_of(configuration, "provider_config")
    for key, provider in providers.entries.items() if isinstance(providers, MapValue) else ():
        account, region = provider_settings(_constants(field_of(provider, "expressions")))
        account = account or _default_account(key, configured_account)
        found[key] = Deployment(
            key=f"plan:{display}:{key}", name=f"provider {key} of the plan {display}", account=account, region=region
        )
    return found


def _default_account(provider_key: str, configured_account: str | None) -> str | None:
    """The configured account, for the root's default provider (``aws``, not ``aws.europe`` nor a module's)."""
    return configured_account if "." not in provider_key and ":" not in provider_key else None


def _constants(expressions: Value | None) -> Value | None:
    """Configuration expressions as the constant values they hold (``{"constant_value": v}`` is ``v``);
    expressions that refer to something are left out."""
    if isinstance(expressions, ListValue):
        return ListValue(
            items=tuple(c for item in expressions.items if (c := _constants(item)) is not None), span=expressions.span
        )
    if not isinstance(expressions, MapValue) or "references" in expressions.entries:
        return None
    if "constant_value" in expressions.entries:
        return expressions.entries["constant_value"]
    entries = {name: c for name, item in expressions.entries.items() if (c := _constants(item)) is not None}
    return MapValue(entries=entries, span=expressions.span)


def _modules(planned: Value | None, config: Value | None):
    """Each planned module with its configuration module (``module_calls`` nest them)."""
    if not isinstance(planned, MapValue):
        return
    yield planned, config
    for child in _list(planned, "child_modules"):
        child_address = _text(field_of(child, "address"))
        call = _INDEX.sub("", child_address.rsplit("module.", 1)[-1]) if child_address else ""
        yield from _modules(child, field_of(config, "module_calls", call, "module"))


class _Completion:
    """A planned resource's values with what the plan leaves out: values known only after apply.

    A value is left out of ``planned_values`` when it is not known yet (or, in a list, given as null);
    ``after_unknown`` marks it. When the configuration says it is an attribute of one other planned
    resource, it is that reference; otherwise it is unknown. A value the plan gives, null included,
    is kept as it is.
    """

    def __init__(self, display: str, prefix: str, addresses: set[str], address: str) -> None:
        self.display = display
        self.prefix = prefix  # the module's address, "" or "module.x."
        self.addresses = addresses  # the planned resources of that module
        self.address = address

    def of(self, value: Value, expressions: Value | None, unknown: Value | None, path: str) -> Value:
        if isinstance(value, MapValue):
            entries = dict(value.entries)
            blocks = expressions if isinstance(expressions, MapValue) and not _is_expression(expressions) else None
            names = [*(blocks.entries if blocks else ()), *(unknown.entries if isinstance(unknown, MapValue) else ())]
            for name in dict.fromkeys(names):
                expression, flagged, where = field_of(blocks, name), field_of(unknown, name), f"{path}.{name}".lstrip(".")
                if name in entries:
                    entries[name] = self.of(entries[name], expression, flagged, where)
                elif _references(expression) or _is_true(flagged):
                    entries[name] = self.restored(expression, where, value)
            return MapValue(entries=entries, key_spans=value.key_spans, span=value.span, origin=value.origin)
        if isinstance(value, ListValue):
            expressions = expressions if isinstance(expressions, ListValue) else None
            flags = unknown.items if isinstance(unknown, ListValue) else ()
            items = []
            for index, item in enumerate(value.items):
                expression = expressions.items[index] if expressions and len(expressions.items) == len(value.items) else None
                flagged = flags[index] if index < len(flags) else None
                where = f"{path}[{index}]"
                unknown_item = _is_true(flagged) and is_absent(item)
                items.append(self.restored(None, where, item) if unknown_item else self.of(item, expression, flagged, where))
            return ListValue(items=tuple(items), span=value.span, origin=value.origin)
        return value

    def restored(self, expression: Value | None, path: str, near: Value) -> Value:
        """A value the plan does not give: the planned resource attribute it refers to, or unknown."""
        read = _read(_references(expression))
        reference = self.reference(read[0]) if len(read) == 1 else None
        if reference is not None:
            return Text(parts=(reference,), span=near.span)
        source = f" (from {', '.join(read)})" if read else ""
        return Unknown(reason=f"{self.address}.{path} is known only after apply{source}", span=near.span)

    def reference(self, reference: str) -> Attribute | None:
        """The attribute ``aws_x.y.attribute`` (or ``data.aws_x.y.attribute``) names, when that resource is planned
        in this module; a variable, local, module output or unplanned resource gives None."""
        from .terraform import neutral_attribute

        parts = reference.split(".")
        mode = "data" if parts[0] == "data" else "resource"
        parts = parts[1:] if mode == "data" else parts
        if len(parts) != 3 or parts[0] in ("var", "local", "module", "each", "count", "path", "self", "terraform"):
            return None
        target = f"{self.prefix}{'data.' if mode == 'data' else ''}{parts[0]}.{parts[1]}"
        # The plan's references drop the index: aws_x.y of a counted aws_x.y[0] names that instance only when
        # it is the only one; of several, it cannot tell which.
        instances = [address for address in self.addresses if _INDEX.sub("", address) == target]
        match = target if target in self.addresses else instances[0] if len(instances) == 1 else None
        if match is None:
            return None
        attribute = neutral_attribute(parts[0], parts[2], mode) or parts[2]
        return Attribute(f"{self.display}::{match}", attribute, reference)


def _is_expression(value: MapValue) -> bool:
    """A configuration expression (``constant_value`` or ``references``), not a nested block's expressions."""
    return "constant_value" in value.entries or "references" in value.entries


def _read(references: list[str]) -> list[str]:
    """What an expression reads: its references without those that only lead to another
    (``aws_kms_key.k`` of ``aws_kms_key.k.arn``)."""
    return [r for r in references if not any(other.startswith((r + ".", r + "[")) for other in references)]


def _references(expression: Value | None) -> list[str]:
    if not isinstance(expression, MapValue):
        return []
    return [_text(item) for item in _list(expression, "references")]


def _is_true(flag: Value | None) -> bool:
    return as_bool(flag) is True


def _list(value: Value | None, key: str) -> list[Value]:
    return [item for _, item in members(field_of(value, key))]


def _text(value: Value | None) -> str:
    return literal_text(value) or ""
