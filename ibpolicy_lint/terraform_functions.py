"""Terraform's built-in functions, as far as the linter needs them to follow keys and accounts.

Each takes the evaluator, the evaluated arguments and the call, and returns a value; an argument
that is not known makes the result unknown with the same reason. Functions not listed here give
an unknown value that names them. Arguments hold no choices: ``Evaluator.call`` runs a function in
every branch of the conditions its arguments hold, except the ``TRANSPARENT`` ones, which return an
argument as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from . import terraform_syntax as syntax
from .terraform import Evaluator, Missing, _comparable, _number, _step
from .values import (
    Absent,
    ListValue,
    MapValue,
    Scalar,
    Text,
    Unknown,
    Value,
    concatenate,
    from_python,
    is_absent,
    literal_text,
    relocated,
    text,
)


def _known(arguments: list[Value], expression: syntax.Call, count: int | None = None) -> Unknown | None:
    """An Unknown to return when an argument is unknown (or the argument count is wrong), else None."""
    if count is not None and len(arguments) < count:
        return Unknown(reason=f"{expression.name}() needs {count} arguments", span=expression.span)
    for argument in arguments:
        if isinstance(argument, Unknown):
            return Unknown(reason=argument.reason, span=expression.span, origin=argument.origin)
    return None


def _fn_passthrough(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    return args[0] if args else Unknown(reason=f"{e.name}() without arguments", span=e.span)


def _fn_jsondecode(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    literal = literal_text(args[0]) if args else None
    if literal is None:
        return _known(args, e) or Unknown(reason="jsondecode() of a value that is not known", span=e.span)
    try:
        return from_python(json.loads(literal), e.span)
    except ValueError:
        return Unknown(reason="jsondecode() of text that is not JSON", span=e.span)
    except RecursionError:
        return Unknown(reason="jsondecode() of JSON nested too deeply for this linter", span=e.span)


def _read_relative(ev: Evaluator, args: list[Value], e: syntax.Call) -> tuple[str | None, Unknown | None]:
    """The text of a file named by a literal path: relative paths start at the root module, as in Terraform."""
    path_text = literal_text(args[0]) if args else None
    if path_text is None:
        return None, Unknown(reason=f"{e.name}() of a path that is not known", span=e.span)
    path = Path(path_text)
    if not path.is_absolute():
        path = ev.module.root.source.path / path
    content = ev.module.root.loader.sources.read_text(path)
    if content is None:
        return None, Unknown(reason=f"{e.name}(): {path_text} is not in the scanned tree", span=e.span)
    return content, None


def _fn_file(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    content, problem = _read_relative(ev, args, e)
    if problem is not None:
        return problem
    return text(content, e.span, f"file {literal_text(args[0])}")


def _fn_templatefile(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    content, problem = _read_relative(ev, args, e)
    if problem is not None:
        return problem
    variables = args[1] if len(args) > 1 else MapValue(entries={}, span=e.span)
    if not isinstance(variables, MapValue):
        return Unknown(reason="templatefile() with variables that are not known", span=e.span)
    template = syntax.template_from_text(content, ev.module.source.display, e.span)
    call = f"templatefile({literal_text(args[0])}) at {e.span.where()}"  # names the decisions its variables make
    value = Evaluator(ev.module, dict(variables.entries), dict.fromkeys(variables.entries, call)).eval(template)
    return relocated(value, e.span, f"template {literal_text(args[0])}")


def _fn_format(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    pattern = literal_text(args[0]) if args else None
    if pattern is None:
        return _known(args, e) or Unknown(reason="format() with a pattern that is not known", span=e.span)
    pieces: list = []
    remaining = iter(args[1:])
    for match in re.finditer(r"%%|%[-+# 0]*\d*(?:\.\d+)?[a-zA-Z]|[^%]+", pattern):
        token = match.group(0)
        if token == "%%":
            pieces.append("%")
        elif token.startswith("%"):
            argument = next(remaining, None)
            if argument is None:
                return Unknown(reason="format() with too few arguments", span=e.span)
            pieces.append(argument)
        else:
            pieces.append(token)
    return concatenate(pieces, e.span)


def _fn_lookup(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    if len(args) < 2:
        return Unknown(reason="lookup() needs a map and a key", span=e.span)
    found = _step([args[0], args[1]], None, e.span)
    if isinstance(found, Missing) and len(args) > 2:
        return args[2]
    return found


def _fn_try(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    for argument in args:
        if isinstance(argument, Missing):
            continue
        return argument
    return Unknown(reason="every argument of try() fails", span=e.span)


def _fn_can(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    if args and isinstance(args[0], Missing):
        return Scalar(value=False, span=e.span)
    if args and isinstance(args[0], Unknown):
        return Unknown(reason=args[0].reason, span=e.span)
    return Scalar(value=True, span=e.span)


def _fn_coalesce(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    for argument in args:
        if isinstance(argument, Unknown):
            return argument
        if not is_absent(argument) and literal_text(argument) != "":
            return argument
    return Absent(span=e.span)


def _items(value: Value) -> tuple[Value, ...] | None:
    if isinstance(value, ListValue):
        return value.items
    if is_absent(value):
        return ()
    return None


def _fn_concat(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    items: list[Value] = []
    for value in args:
        found = _items(value)
        if found is None:
            return Unknown(reason="concat() of a list that is not known", span=e.span)
        items.extend(found)
    return ListValue(items=tuple(items), span=e.span)


def _fn_merge(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    entries: dict[str, Value] = {}
    for value in args:
        if is_absent(value):
            continue
        if not isinstance(value, MapValue):
            return Unknown(reason="merge() of a map that is not known", span=e.span)
        entries.update(value.entries)
    return MapValue(entries=entries, span=e.span)


def _fn_flatten(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    def flatten(value: Value) -> list[Value] | None:
        if isinstance(value, ListValue):
            out: list[Value] = []
            for item in value.items:
                inner = flatten(item)
                if inner is None:
                    return None
                out.extend(inner)
            return out
        return None if isinstance(value, Unknown) else [value]

    items = flatten(args[0]) if args else None
    return (
        ListValue(items=tuple(items), span=e.span)
        if items is not None
        else Unknown(reason="flatten() of a list that is not known", span=e.span)
    )


def _fn_compact(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    items = _items(args[0]) if args else None
    if items is None:
        return Unknown(reason="compact() of a list that is not known", span=e.span)
    return ListValue(items=tuple(i for i in items if not is_absent(i) and literal_text(i) != ""), span=e.span)


def _fn_distinct(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    items = _items(args[0]) if args else None
    if items is None:
        return args[0] if args else Unknown(reason="distinct() without a list", span=e.span)
    seen: list = []
    kept: list[Value] = []
    for item in items:
        key = _comparable(item)
        if key is None or key not in seen:
            seen.append(key)
            kept.append(item)
    return ListValue(items=tuple(kept), span=e.span)


def _fn_length(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    if not args:
        return Unknown(reason="length() without argument", span=e.span)
    value = args[0]
    if isinstance(value, (ListValue, MapValue)):
        return Scalar(value=len(value.items if isinstance(value, ListValue) else value.entries), span=e.span)
    literal = literal_text(value)
    if isinstance(value, Text) and literal is not None:
        return Scalar(value=len(literal), span=e.span)
    return Unknown(reason=getattr(value, "reason", "length() of a value that is not known"), span=e.span)


def _fn_element(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    items = _items(args[0]) if args else None
    index = _number(args[1]) if len(args) > 1 else None
    unknown = _known(args, e, 2)
    if unknown is not None or items is None:
        return unknown or Unknown(reason="element() of a list that is not known", span=e.span)
    if index is None:
        shown = literal_text(args[1])
        reason = f"element() with the index {shown}, which Terraform refuses (it needs a whole number from 0)"
        return Unknown(reason=reason if shown is not None else "element() with an index that is not known", span=e.span)
    if not items:
        return Unknown(reason="element() of an empty list (Terraform refuses it)", span=e.span)
    return items[index % len(items)]


def _fn_one(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    items = _items(args[0]) if args else None
    if items is None:
        return _known(args, e) or Unknown(reason="one() of a list that is not known", span=e.span)
    return items[0] if len(items) == 1 else Absent(span=e.span)


def _fn_join(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    separator = literal_text(args[0]) if args else None
    items = _items(args[1]) if len(args) > 1 else None
    if separator is None or items is None:
        return _known(args, e) or Unknown(reason="join() of values that are not known", span=e.span)
    pieces: list = []
    for index, item in enumerate(items):
        if index:
            pieces.append(separator)
        pieces.append(item)
    return concatenate(pieces, e.span)


def _fn_split(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    separator, source = (literal_text(a) for a in args[:2]) if len(args) > 1 else (None, None)
    if separator is None or source is None:
        return _known(args, e) or Unknown(reason="split() of text that is not known", span=e.span)
    return ListValue(items=tuple(text(piece, e.span) for piece in source.split(separator)), span=e.span)


def _text_function(transform: Callable[[str], str]):
    def function(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
        literal = literal_text(args[0]) if args else None
        if literal is None:
            return _known(args, e) or Unknown(reason=f"{e.name}() of text that is not known", span=e.span)
        return text(transform(literal), e.span, args[0].origin)

    return function


def _fn_replace(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    literals = [literal_text(a) for a in args[:3]]
    if len(literals) < 3 or None in literals:
        return _known(args, e) or Unknown(reason="replace() of text that is not known", span=e.span)
    source, old, new = literals
    if len(old) > 1 and old.startswith("/") and old.endswith("/"):
        try:
            return text(re.sub(old[1:-1], new.replace("$", "\\"), source), e.span)
        except re.error:
            return Unknown(reason="replace() with a pattern this linter cannot run", span=e.span)
    return text(source.replace(old, new), e.span)


def _fn_keys(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    if not args or not isinstance(args[0], MapValue):
        return _known(args, e) or Unknown(reason="keys() of a map that is not known", span=e.span)
    return ListValue(items=tuple(text(k, e.span) for k in sorted(args[0].entries)), span=e.span)


def _fn_values(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    if not args or not isinstance(args[0], MapValue):
        return _known(args, e) or Unknown(reason="values() of a map that is not known", span=e.span)
    return ListValue(items=tuple(args[0].entries[k] for k in sorted(args[0].entries)), span=e.span)


def _fn_contains(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    items = _items(args[0]) if args else None
    wanted = _comparable(args[1]) if len(args) > 1 else None
    if items is None or wanted is None or any(_comparable(item) is None for item in items):
        return Unknown(reason="contains() of values that are not known", span=e.span)
    return Scalar(value=any(_comparable(item) == wanted for item in items), span=e.span)


def _fn_tomap(ev: Evaluator, args: list[Value], e: syntax.Call) -> Value:
    return args[0] if args else MapValue(entries={}, span=e.span)


# Functions that return an argument as it is: they need not run once per branch of its conditions.
TRANSPARENT = frozenset({"jsonencode", "yamlencode", "tostring", "tolist", "tomap", "tonumber", "tobool"})
TRANSPARENT |= {"sensitive", "nonsensitive"}

FUNCTIONS: dict[str, Callable[[Evaluator, list[Value], syntax.Call], Value]] = {
    "jsonencode": _fn_passthrough,
    "yamlencode": _fn_passthrough,
    "tostring": _fn_passthrough,
    "tolist": _fn_passthrough,
    "toset": _fn_distinct,
    "tomap": _fn_tomap,
    "tonumber": _fn_passthrough,
    "tobool": _fn_passthrough,
    "sensitive": _fn_passthrough,
    "nonsensitive": _fn_passthrough,
    "jsondecode": _fn_jsondecode,
    "file": _fn_file,
    "templatefile": _fn_templatefile,
    "format": _fn_format,
    "lookup": _fn_lookup,
    "try": _fn_try,
    "can": _fn_can,
    "coalesce": _fn_coalesce,
    "concat": _fn_concat,
    "merge": _fn_merge,
    "flatten": _fn_flatten,
    "compact": _fn_compact,
    "distinct": _fn_distinct,
    "length": _fn_length,
    "element": _fn_element,
    "one": _fn_one,
    "join": _fn_join,
    "split": _fn_split,
    "lower": _text_function(str.lower),
    "upper": _text_function(str.upper),
    "trimspace": _text_function(str.strip),
    "replace": _fn_replace,
    "keys": _fn_keys,
    "values": _fn_values,
    "contains": _fn_contains,
}
