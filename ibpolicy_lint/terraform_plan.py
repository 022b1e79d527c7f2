"""Terraform plan JSON (``terraform show -json``) as a resolved configuration.

A plan records the values Terraform will apply, but not values known only after apply (ARNs) and
not source lines. When the configuration's HCL is in the scan, the plan's variable values feed the
HCL evaluation (findings point at HCL lines); otherwise the planned resources are read directly,
references to not-yet-known ARNs are restored from the plan's ``configuration`` section, and
findings point into the plan file and name resource addresses.
"""

from __future__ import annotations

import re

from .model import Deployment, Resource
from .values import ARN, Attribute, ListValue, MapValue, Text, Value, is_absent, relocated

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


def load_plan(root: MapValue, display: str) -> list[Resource]:
    from .terraform import _BUILDERS, _COMPUTED_ATTRIBUTES  # the same builders as HCL

    configuration = root.get("configuration")
    deployments = _deployments(configuration, display)
    planned = _get(root, "planned_values", "root_module")
    config_root = _get(configuration, "root_module")
    resources: list[Resource] = []
    for module, config_module in _modules(planned, config_root):
        addresses = {_address_of(item) for item in _items(module, "resources")}
        config_resources = {_text(_get(item, "address")): item for item in _items(config_module, "resources")}
        module_address = _text(_get(module, "address"))
        prefix = f"{module_address}." if module_address else ""
        for item in _items(module, "resources"):
            mode = "data" if _text(_get(item, "mode")) == "data" else "resource"
            resource_type = _text(_get(item, "type"))
            build = _BUILDERS.get((mode, resource_type))
            if build is None:
                continue
            address = _address_of(item)
            local_address = _INDEX.sub("", address[len(prefix) :])
            config = config_resources.get(local_address)
            values = _get(item, "values")
            values = values if isinstance(values, MapValue) else MapValue(entries={}, span=item.span)
            expressions = _get(config, "expressions")
            values = _with_references(values, expressions, prefix, addresses, display, _COMPUTED_ATTRIBUTES)
            provider_key = _text(_get(config, "provider_config_key")) or resource_type.split("_", 1)[0]
            deployment = deployments.get(provider_key) or deployments.setdefault(
                provider_key,
                Deployment(key=f"plan:{display}:{provider_key}", name=f"provider {provider_key} of the plan {display}"),
            )
            header = dict(key=f"{display}::{address}", name=address, type=resource_type, span=item.span, deployment=deployment)
            resources.append(build(header, values))
    return resources


def _deployments(configuration: Value | None, display: str) -> dict[str, Deployment]:
    found: dict[str, Deployment] = {}
    providers = _get(configuration, "provider_config")
    for key, provider in providers.entries.items() if isinstance(providers, MapValue) else ():
        region = _text(_get(provider, "expressions", "region", "constant_value")) or None
        found[key] = Deployment(key=f"plan:{display}:{key}", name=f"provider {key} of the plan {display}", region=region)
    return found


def _modules(planned: Value | None, config: Value | None, address: str = ""):
    """Each planned module with its configuration module (``module_calls`` nest them)."""
    if not isinstance(planned, MapValue):
        return
    yield planned, config
    for child in _items(planned, "child_modules"):
        child_address = _text(_get(child, "address"))
        call = _INDEX.sub("", child_address.rsplit("module.", 1)[-1]) if child_address else ""
        yield from _modules(child, _get(config, "module_calls", call, "module"), child_address)


def _with_references(
    values: MapValue, expressions: Value | None, prefix: str, addresses: set[str], display: str, attributes
) -> MapValue:
    """Values the plan leaves unknown (ARNs of resources not yet created), restored as references."""
    if not isinstance(expressions, MapValue):
        return values
    entries = dict(values.entries)
    for name, expression in expressions.entries.items():
        current = entries.get(name)
        if isinstance(expression, MapValue) and "references" in expression.entries and (current is None or is_absent(current)):
            reference = _reference(expression, prefix, addresses, display, attributes, values)
            if reference is not None:
                entries[name] = reference
        elif isinstance(expression, ListValue) and isinstance(current, ListValue) and len(current.items) == len(expression.items):
            entries[name] = ListValue(
                items=tuple(
                    _with_references(item, inner, prefix, addresses, display, attributes) if isinstance(item, MapValue) else item
                    for item, inner in zip(current.items, expression.items, strict=True)
                ),
                span=current.span,
            )
    return MapValue(entries=entries, key_spans=values.key_spans, span=values.span)


def _reference(expression: MapValue, prefix: str, addresses: set[str], display: str, attributes, values: MapValue) -> Text | None:
    references = expression.get("references")
    for item in references.items if isinstance(references, ListValue) else ():
        reference = _text(item)
        parts = reference.split(".")
        if len(parts) < 3 or parts[0] in ("var", "local", "module", "data"):
            continue
        target = f"{prefix}{parts[0]}.{parts[1]}"
        match = target if target in addresses else next((a for a in sorted(addresses) if _INDEX.sub("", a) == target), None)
        if match is None:
            continue
        attribute = attributes.get(parts[0], {}).get(parts[2]) or (ARN if parts[2] in ("arn", "id") else parts[2])
        return Text(parts=(Attribute(f"{display}::{match}", attribute, reference),), span=values.span)
    return None


def _address_of(item: Value) -> str:
    return _text(_get(item, "address"))


def _get(value: Value | None, *keys: str) -> Value | None:
    for key in keys:
        if not isinstance(value, MapValue):
            return None
        value = value.get(key)
    return value


def _items(value: Value | None, key: str) -> tuple[Value, ...]:
    found = _get(value, key)
    return found.items if isinstance(found, ListValue) else ()


def _text(value: Value | None) -> str:
    return (value.literal or "") if isinstance(value, Text) else ""
