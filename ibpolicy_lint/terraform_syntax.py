"""Terraform sources as one small expression tree: HCL (via python-hcl2's Lark grammar) and JSON.

python-hcl2 8.x parses HCL into a Lark tree whose nodes carry line and column. We walk that raw
tree (skipping python-hcl2's own transform, which roughly doubles the cost) into the few node
types below. Terraform JSON (``.tf.json``) strings are templates; they are parsed with the same
grammar and their parts point at the JSON string. The evaluator (``terraform.py``) only sees this
tree, so python-hcl2's internals are confined to this module (pinned ``>=8.1.2,<9``).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field, fields

from .documents import DocumentError
from .source import Span
from .values import ListValue, MapValue, Scalar, Text, Value

# --- the tree ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Expression:
    span: Span


@dataclass(frozen=True, eq=False)
class Literal(Expression):
    value: str | int | float | bool | None


@dataclass(frozen=True, eq=False)
class Template(Expression):
    """A string with interpolations; a template that is exactly ``"${x}"`` evaluates to ``x`` itself."""

    parts: tuple  # of str | Expression


@dataclass(frozen=True, eq=False)
class Traversal(Expression):
    """``root.step[step]...`` (``base`` instead of ``root`` when the start is not a name)."""

    root: str | None
    base: Expression | None
    steps: tuple  # of str (attribute) | Expression (index)
    text: str


@dataclass(frozen=True, eq=False)
class Splat(Expression):
    source: Expression
    steps: tuple
    text: str


@dataclass(frozen=True, eq=False)
class Call(Expression):
    name: str
    arguments: tuple
    expand_last: bool
    text: str


@dataclass(frozen=True, eq=False)
class Conditional(Expression):
    test: Expression
    yes: Expression
    no: Expression
    text: str  # the test, as written: names the decision in messages


@dataclass(frozen=True, eq=False)
class Operation(Expression):
    operator: str
    operands: tuple


@dataclass(frozen=True, eq=False)
class TupleExpression(Expression):
    items: tuple


@dataclass(frozen=True, eq=False)
class ObjectExpression(Expression):
    items: tuple  # of (key Expression, value Expression)


@dataclass(frozen=True, eq=False)
class ForExpression(Expression):
    key_name: str | None
    value_name: str
    collection: Expression
    key: Expression | None  # object results only
    value: Expression
    condition: Expression | None
    grouped: bool
    text: str


@dataclass(frozen=True, eq=False)
class Unsupported(Expression):
    reason: str


def children(expression: Expression) -> list[Expression]:
    """The expressions directly inside one (operands, items, object keys and values, index steps)."""
    found: list[Expression] = []
    stack: list = [getattr(expression, item.name) for item in fields(expression)]
    while stack:
        node = stack.pop()
        if isinstance(node, Expression):
            found.append(node)
        elif isinstance(node, tuple):
            stack.extend(node)
    return found


def names_in(expression: Expression) -> set[str]:
    """The names an expression's references start from: ``var``, ``each``, a for expression's item."""
    found: set[str] = set()
    stack: list[Expression] = [expression]
    while stack:
        node = stack.pop()
        if isinstance(node, Traversal) and node.root is not None:
            found.add(node.root)
        stack.extend(children(node))
    return found


@dataclass(frozen=True, eq=False)
class Attribute:
    name: str
    expression: Expression
    span: Span  # the whole `name = value`


@dataclass(eq=False)
class Body:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


@dataclass(eq=False)
class Block:
    type: str
    labels: tuple[str, ...]
    body: Body
    span: Span


# --- HCL -------------------------------------------------------------------------------------------


def _parses_to_tree(text: str):
    """python-hcl2's raw Lark tree, with its grammar cache where it can be written.

    Building the Lark parser takes 1-2 s; Lark keeps the result in a cache file that python-hcl2 puts
    in its own package folder, written on first use. Where that folder is read-only (a system or
    container install) every run would pay the build, so the cache goes to ibpolicy-lint's cache
    folder instead (Lark checks that a cache file matches its grammar and version before using it).
    """
    import hcl2.parser
    from hcl2.api import parses_to_tree

    cache = hcl2.parser.PARSER_FILE
    if not cache.exists() and not os.access(cache.parent, os.W_OK):
        from importlib.metadata import version

        from .cache import default_directory

        folder = default_directory()
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
        hcl2.parser.PARSER_FILE = folder / f"hcl2-{version('python-hcl2')}.lark"  # read when the parser is built
    return parses_to_tree(text)


def parse_hcl(text: str, path: str) -> Body:
    """An HCL file's body. Raises DocumentError with the position of a syntax error."""
    from lark.exceptions import UnexpectedInput

    try:
        tree = _parses_to_tree(text)
    except UnexpectedInput as error:
        line, column = getattr(error, "line", None), getattr(error, "column", None)
        raise DocumentError(syntax_error_reason(error), line if line and line > 0 else None, column) from None
    except RecursionError:
        raise DocumentError(_TOO_DEEP) from None
    try:
        return _Converter(path, text).body(tree.children[0])
    except RecursionError:
        raise DocumentError(_TOO_DEEP) from None


_TOO_DEEP = "nested too deeply for the HCL parser (about 200 levels of brackets, blocks or chained operators)"

# Lark's terminal names in python-hcl2's grammar, as a person would name them.
_TERMINALS = {
    "RBRACE": "'}'", "RSQB": "']'", "RPAR": "')'", "EQ": "'='", "COMMA": "','", "COLON": "':'", "LBRACE": "'{'",
    "DBLQUOTE": "'\"'", "FOR_OBJECT_ARROW": "'=>'", "NAME": "a name", "NL_OR_COMMENT": "a new line", "$END": "end of file",
}  # fmt: skip
# When several of these are acceptable, the parser wants any value.
_VALUE_STARTS = {"DBLQUOTE", "INT_LITERAL", "FLOAT_LITERAL", "LSQB", "LBRACE", "LPAR", "HEREDOC_TEMPLATE", "MINUS", "NOT"}
_LISTED_IN_ORDER = ("RBRACE", "RSQB", "RPAR", "EQ", "COMMA", "COLON", "LBRACE", "DBLQUOTE", "FOR_OBJECT_ARROW", "value")
_LISTED_IN_ORDER += ("NAME", "NL_OR_COMMENT", "$END")


def syntax_error_reason(error) -> str:
    """Lark's report of a syntax error, short: ``unexpected '}' (expected end of file)``."""
    token = getattr(error, "token", None)
    if token is not None:
        found = _shown_token(token)
    elif getattr(error, "char", None) is not None:
        found = "character " + _quoted(error.char)
    else:
        found = "end of file"
    expected = set(getattr(error, "expected", None) or getattr(error, "allowed", None) or ())
    if len(expected) > 15:  # the parser would take almost anything here: the list would not help
        return f"unexpected {found}"
    names = set(expected)
    if len(names & _VALUE_STARTS) >= 3:
        names = (names - _VALUE_STARTS - {"NAME"}) | {"value"}  # a name is a value too (a reference)
    wanted = [name for name in _LISTED_IN_ORDER if name in names]
    shown = [_TERMINALS.get(name, "a value") for name in wanted][:3]
    if not shown:
        return f"unexpected {found}"
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
    return f"unexpected {found} (expected {listed})"


def _shown_token(token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type in _TERMINALS and token.type not in ("NAME", "NL_OR_COMMENT"):
        return _TERMINALS[token.type]
    words = str(token).split()
    if not words:
        return "end of line"
    word = words[0]
    return _quoted(word if len(word) <= 20 else word[:20] + "…")


def _quoted(text: str) -> str:
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return f"'{shown}'"


def parse_expression(text: str, path: str, span: Span) -> Expression:
    """One expression from text embedded elsewhere (a JSON string, a heredoc); its spans are ``span``."""
    from lark.exceptions import UnexpectedInput

    try:
        tree = _parses_to_tree(f"x = {text}")
    except (UnexpectedInput, RecursionError):
        return Unsupported(f"cannot parse the expression {text!r}", span)
    attribute = next(child for child in tree.children[0].children if getattr(child, "data", None) == "attribute")
    return _Converter(path, f"x = {text}", fixed_span=span).expression(attribute.children[-1])


_ESCAPES = re.compile(r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(raw: str) -> str:
    def replace(match: re.Match) -> str:
        if match.group(1) or match.group(2):
            return chr(int(match.group(1) or match.group(2), 16))
        return _SIMPLE_ESCAPES.get(match.group(3), "\\" + match.group(3))

    return _ESCAPES.sub(replace, raw)


class _Converter:
    def __init__(self, path: str, text: str, fixed_span: Span | None = None) -> None:
        self.path = path
        self.lines = text.split("\n")
        self.fixed_span = fixed_span

    # -- positions

    def span(self, node) -> Span:
        """Where a node is reported: its own place, or the fixed span of the string it was embedded in."""
        return self.fixed_span if self.fixed_span is not None else self.position(node)

    def position(self, node) -> Span:
        """Where a node is in the text this converter parsed."""
        meta = getattr(node, "meta", None)
        if meta is None or getattr(meta, "empty", True):
            line = getattr(node, "line", None) or 1
            column = getattr(node, "column", None) or 1
            return Span(
                self.path, line, column, getattr(node, "end_line", line) or line, getattr(node, "end_column", column) or column
            )
        return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def text(self, node) -> str:
        """The node's source text on one line: it names references and decisions in messages."""
        span = self.position(node)
        if span.line == span.end_line:
            source = self.lines[span.line - 1][span.column - 1 : span.end_column - 1]
        else:
            first = self.lines[span.line - 1][span.column - 1 :]
            middle = self.lines[span.line : span.end_line - 1]
            last = self.lines[span.end_line - 1][: span.end_column - 1]
            source = " ".join([first, *middle, last])
        return " ".join(source.split())

    # -- structure

    def body(self, tree) -> Body:
        body = Body()
        for child in _trees(tree):
            if child.data == "attribute":
                name = _name(child.children[0])
                span = self.span(child)
                if name in body.attributes:  # Terraform: "Attribute redefined"; it refuses the configuration
                    raise DocumentError(
                        f"the argument {name} is set twice (lines {body.attributes[name].span.line} and {span.line}); "
                        "Terraform accepts each argument once",
                        span.line,
                        span.column,
                    )
                body.attributes[name] = Attribute(name, self.expression(child.children[-1]), span)
            elif child.data == "block":
                parts = _trees(child)
                block_type = _name(parts[0])
                labels = tuple(self.label(part) for part in parts[1:-1])
                body.blocks.append(Block(block_type, labels, self.body(parts[-1]), self.span(child)))
        return body

    def label(self, tree) -> str:
        if tree.data == "string":
            return "".join(str(part.children[0]) for part in _trees(tree) if part.data == "string_part")
        return _name(tree)

    # -- expressions

    def expression(self, node) -> Expression:
        kind = node.data
        handler = getattr(self, "_" + kind, None)
        if handler is None:
            return Unsupported(f"{kind} is not evaluated", self.span(node))
        return handler(node)

    def _expr_term(self, node) -> Expression:
        inner = _trees(node)
        if len(inner) == 1:
            return self.expression(inner[0])
        return Unsupported("empty expression", self.span(node))

    def _int_lit(self, node) -> Expression:
        return Literal(self.span(node), int(str(node.children[0])))

    def _float_lit(self, node) -> Expression:
        return Literal(self.span(node), float(str(node.children[0])))

    def _literal_value(self, node) -> Expression:
        return Literal(self.span(node), {"true": True, "false": False, "null": None}[str(node.children[0])])

    def _identifier(self, node) -> Expression:
        return Traversal(self.span(node), _name(node), None, (), _name(node))

    def _string(self, node) -> Expression:
        parts: list = []
        for part in _trees(node):
            content = part.children[0]
            if hasattr(content, "data"):
                if content.data == "interpolation":
                    parts.append(self.expression(_trees(content)[0]))
                else:
                    parts.append(Unsupported("a template directive (%{...})", self.span(content)))
            elif content.type == "STRING_CHARS":
                parts.append(_unescape(str(content)))
            else:  # $${ and %%{ escapes stand for ${ and %{
                parts.append(str(content)[1:])
        return Template(self.span(node), tuple(parts))

    def _heredoc_template(self, node, trim: bool = False) -> Expression:
        raw = str(node.children[0])
        lines = raw.split("\n")
        body_lines = lines[1:-2] if lines[-1] == "" else lines[1:-1]
        if trim:
            indents = [len(line) - len(line.lstrip()) for line in body_lines if line.strip()]
            cut = min(indents, default=0)
            body_lines = [line[cut:] for line in body_lines]
        span = self.span(node)
        return _template_from_text("\n".join(body_lines) + ("\n" if body_lines else ""), self.path, span, span.line + 1)

    def _heredoc_template_trim(self, node) -> Expression:
        return self._heredoc_template(node, trim=True)

    def _template_string(self, node) -> Expression:
        return Unsupported("an escaped template string", self.span(node))

    def _tuple(self, node) -> Expression:
        return TupleExpression(self.span(node), tuple(self.expression(child) for child in _trees(node)))

    def _object(self, node) -> Expression:
        items = []
        for element in _trees(node):
            key_node, value_node = _trees(element)
            key_inner = _trees(key_node)
            if key_inner:
                key = self.expression(key_inner[0])
                if isinstance(key, Traversal) and key.root is not None and not key.steps:
                    key = Literal(key.span, key.root)  # a bare name is a literal key
            else:
                key = Literal(self.span(key_node), str(key_node.children[0]))
            items.append((key, self.expression(value_node)))
        return ObjectExpression(self.span(node), tuple(items))

    def _function_call(self, node) -> Expression:
        names = [_name(child) for child in _trees(node) if child.data == "identifier"]
        arguments_node = next((child for child in _trees(node) if child.data == "arguments"), None)
        arguments: tuple = ()
        expand = False
        if arguments_node is not None:
            arguments = tuple(self.expression(child) for child in _trees(arguments_node))
            expand = any(getattr(token, "type", "") == "ELLIPSIS" for token in arguments_node.children)
        return Call(self.span(node), "::".join(names), arguments, expand, self.text(node))

    def _conditional(self, node) -> Expression:
        test, yes, no = _trees(node)
        return Conditional(self.span(node), self.expression(test), self.expression(yes), self.expression(no), self.text(test))

    def _binary_op(self, node) -> Expression:
        left, term = _trees(node)[:2]
        operator_node, right = _trees(term)
        operator = str(operator_node.children[0])
        return Operation(self.span(node), operator, (self.expression(left), self.expression(right)))

    def _unary_op(self, node) -> Expression:
        operator = str(node.children[0])
        return Operation(self.span(node), "!" if operator == "!" else "neg", (self.expression(_trees(node)[0]),))

    def _traversal(self, node) -> Expression:
        steps: list = []
        current = node
        while getattr(current, "data", None) in ("get_attr_expr_term", "index_expr_term"):
            base, accessor = _trees(current)
            steps.append(self.step(accessor))
            current = _unwrap(base)
        steps.reverse()
        if current.data == "identifier":
            return Traversal(self.span(node), _name(current), None, tuple(steps), self.text(node))
        return Traversal(self.span(node), None, self.expression(current), tuple(steps), self.text(node))

    _get_attr_expr_term = _traversal
    _index_expr_term = _traversal

    def step(self, accessor):
        if accessor.data == "get_attr":
            return _name(_trees(accessor)[0])
        if accessor.data == "short_index":
            return Literal(self.span(accessor), int(str(accessor.children[-1])))
        return self.expression(_trees(accessor)[0])  # braces_index

    def _splat(self, node) -> Expression:
        source, splat = _trees(node)
        steps = tuple(self.step(accessor) for accessor in _trees(splat))
        return Splat(self.span(node), self.expression(_unwrap(source)), steps, self.text(node))

    _attr_splat_expr_term = _splat
    _full_splat_expr_term = _splat

    def _for(self, node, is_object: bool) -> Expression:
        parts = _trees(node)
        intro = parts[0]
        names = [_name(child) for child in _trees(intro) if child.data == "identifier"]
        collection = self.expression([child for child in _trees(intro) if child.data != "identifier"][0])
        rest = parts[1:]
        condition = None
        if rest and rest[-1].data == "for_cond":
            condition = self.expression(_trees(rest[-1])[0])
            rest = rest[:-1]
        key_name, value_name = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        grouped = any(getattr(token, "type", "") == "ELLIPSIS" for token in node.children)
        if is_object:
            key, value = (self.expression(part) for part in rest[:2])
        else:
            key, value = None, self.expression(rest[0])
        return ForExpression(self.span(node), key_name, value_name, collection, key, value, condition, grouped, self.text(node))

    def _for_tuple_expr(self, node) -> Expression:
        return self._for(node, is_object=False)

    def _for_object_expr(self, node) -> Expression:
        return self._for(node, is_object=True)


def _trees(node) -> list:
    """The child rules of a node, without comments and newlines."""
    return [child for child in node.children if hasattr(child, "data") and child.data != "new_line_or_comment"]


def _unwrap(node):
    """An ``expr_term`` without parentheses stands for its one child."""
    if getattr(node, "data", None) == "expr_term":
        inner = _trees(node)
        if len(inner) == 1 and not any(getattr(token, "type", "") == "LPAR" for token in node.children):
            return inner[0]
    return node


def _name(node) -> str:
    return str(node.children[0])


# --- templates embedded in text (heredocs, JSON strings, template files) ------------------------


def _template_from_text(text: str, path: str, span: Span, first_line: int | None = None) -> Template:
    """Split ``text`` at ``${...}`` interpolations (``$${`` is a literal ``${``); directives are opaque."""
    parts: list = []
    literal = ""
    index = 0
    while index < len(text):
        if text.startswith("$${", index) or text.startswith("%%{", index):
            literal += text[index + 1 : index + 3]
            index += 3
            continue
        if text.startswith("${", index) or text.startswith("%{", index):
            end = _closing_brace(text, index + 2)
            if end < 0:
                literal += text[index:]
                break
            if literal:
                parts.append(literal)
                literal = ""
            inner = text[index + 2 : end].strip().strip("~").strip()
            line = (first_line or span.line) + text.count("\n", 0, index)
            part_span = Span(span.file, line, 1, line, 1) if first_line else span
            if text.startswith("%{", index):
                parts.append(Unsupported("a template directive (%{...})", part_span))
            else:
                parts.append(parse_expression(inner, path, part_span))
            index = end + 1
            continue
        literal += text[index]
        index += 1
    if literal:
        parts.append(literal)
    return Template(span, tuple(parts))


def template_from_text(text: str, path: str, span: Span) -> Template:
    """A template file's text (``templatefile()``), every part pointing at ``span``."""
    return _template_from_text(text, path, span)


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    quote = False
    index = start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == '"':
                quote = False
        elif char == '"':
            quote = True
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    return -1


# --- Terraform JSON ----------------------------------------------------------------------------------

# How many labels each top-level block type has in Terraform JSON.
_JSON_LABELS = {"resource": 2, "data": 2, "variable": 1, "output": 1, "module": 1, "provider": 1, "locals": 0, "terraform": 0}


def json_body(root: Value, path: str) -> Body:
    """A ``.tf.json`` document as the same body an HCL file gives."""
    body = Body()
    if not isinstance(root, MapValue):
        raise DocumentError("a Terraform JSON file must hold an object", root.span.line, root.span.column)
    for block_type, content in root.entries.items():
        depth = _JSON_LABELS.get(block_type)
        if depth is None:
            continue
        for labels, value in _labelled(content, depth):
            for item in value.items if isinstance(value, ListValue) else (value,):
                body.blocks.append(Block(block_type, labels, json_block_body(item, path), item.span))
    return body


def _labelled(value: Value, depth: int, labels: tuple[str, ...] = ()):
    if depth == 0:
        yield labels, value
        return
    items = value.items if isinstance(value, ListValue) else (value,)
    for item in items:
        if isinstance(item, MapValue):
            for key, inner in item.entries.items():
                yield from _labelled(inner, depth - 1, (*labels, key))


def json_block_body(value: Value, path: str) -> Body:
    body = Body()
    if not isinstance(value, MapValue):
        return body
    for key, inner in value.entries.items():
        if key == "dynamic":
            for labels, content in _labelled(inner, 1):
                for item in content.items if isinstance(content, ListValue) else (content,):
                    body.blocks.append(Block("dynamic", labels, json_block_body(item, path), item.span))
            continue
        body.attributes[key] = Attribute(key, json_expression(inner, path), value.key_spans.get(key, inner.span))
    return body


def json_expression(value: Value, path: str) -> Expression:
    if isinstance(value, Text):
        literal = value.literal or ""
        if "${" in literal or "%{" in literal:
            return _template_from_text(literal, path, value.span)
        return Literal(value.span, literal)
    if isinstance(value, Scalar):
        return Literal(value.span, value.value)
    if isinstance(value, ListValue):
        return TupleExpression(value.span, tuple(json_expression(item, path) for item in value.items))
    if isinstance(value, MapValue):
        items = tuple((Literal(value.key_spans.get(k, v.span), k), json_expression(v, path)) for k, v in value.entries.items())
        return ObjectExpression(value.span, items)
    return Unsupported("an unreadable JSON value", value.span)
