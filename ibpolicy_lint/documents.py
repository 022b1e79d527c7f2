"""YAML and JSON documents as value trees that remember where every value is.

libyaml (the C parser) composes the node graph; converting it is iterative, so deep documents
never recurse in Python, and an alias that would expand past ``MAX_NODES`` is refused. Every
scalar keeps its source text: ``012345670123`` stays an account ID and ``2012-10-17`` a version.
CloudFormation short-form tags become their long form (``!Ref X`` -> ``{"Ref": "X"}``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from .source import Span
from .values import ListValue, MapValue, Part, Scalar, Symbol, Text, Value, join_parts

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing: correct but slower
    _Loader = yaml.SafeLoader  # type: ignore[misc]

# cfn-lint's limit on expanded nodes: an alias bomb is refused instead of exploding memory.
MAX_NODES = 250_000

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_NAMED_TAGS = {"!Ref": "Ref", "!Condition": "Condition"}


class DocumentError(Exception):
    """The text is not a well-formed document. ``line``/``column`` are 1-based when known."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


@dataclass(frozen=True)
class DuplicateKey:
    key: str
    first: Span
    second: Span


@dataclass
class Document:
    root: Value
    duplicates: list[DuplicateKey]


def decode(data: bytes) -> str:
    """The text of a file for line display and text searches (UTF-8, UTF-16 with BOM)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def as_utf8(data: bytes) -> bytes:
    """UTF-16 text (with a BOM) as UTF-8, so byte-level checks can see its words; other bytes unchanged."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeError:
            return data  # libyaml reports where it breaks
    return data


def parse_yaml(data: bytes, path: str) -> Document:
    """Parse YAML (or JSON, which libyaml reads too) from bytes, keeping positions."""
    try:
        node = yaml.compose(data, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        raise _marked_error(error, _line_count(data)) from None
    except yaml.YAMLError as error:  # ReaderError: bytes that are not text
        position = getattr(error, "position", None)
        line = _line_of_offset(data, position) if position is not None else None
        reason = getattr(error, "reason", None) or str(error).splitlines()[0]
        raise DocumentError(f"not readable as text: {reason}", line) from None
    if node is None:
        return Document(root=MapValue(entries={}, span=Span.at(path, 1)), duplicates=[])
    return _Converter(path).convert(node)


_ANCHOR = re.compile(rb"(?:^|[\s\[{,])&[A-Za-z0-9_-]")


def has_anchors(data: bytes) -> bool:
    """YAML anchors: the text needs the full parse, which refuses alias bombs (IBP000)."""
    return b"&" in data and _ANCHOR.search(data) is not None


def check_syntax(data: bytes, is_json: bool) -> None:
    """Raise DocumentError if the text does not parse, without building any value (libyaml in C).

    For templates no rule reads: whether they parse still matters (IBP000), their values do not.
    """
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - no libyaml: fall back to the full parse
        (parse_json if is_json else parse_yaml)(data, "")
        return
    try:
        CParser(data).raw_parse()
    except yaml.MarkedYAMLError as error:
        if not is_json:
            raise _marked_error(error, _line_count(data)) from None
        try:
            json.loads(decode(data))
        except json.JSONDecodeError as json_error:
            raise DocumentError(json_error.msg, json_error.lineno, json_error.colno) from None
        except RecursionError:
            raise DocumentError("nesting too deep") from None
    except yaml.YAMLError as error:
        raise DocumentError(f"not readable as text: {getattr(error, 'reason', None) or error}") from None


def parse_json(data: bytes, path: str) -> Document:
    """Parse JSON keeping positions; libyaml first (fast), a positioned Python parser for the rest."""
    try:
        return parse_yaml(data, path)
    except DocumentError:
        pass
    text = decode(data)
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentError(error.msg, error.lineno, error.colno) from None
    except RecursionError:
        raise DocumentError("nesting too deep") from None
    return _JsonParser(text, path).parse()


def json_value(value: Text) -> Value:
    """A JSON string that may hold symbols (``Fn::Sub`` variables, Terraform interpolation) as a value tree.

    The symbols stay in the strings that hold them. Spans are those of the JSON text itself (its
    first line is line 1); ``values.moved`` places them in the file. Raises DocumentError.
    """
    shape, symbols = value.shape()
    # Text.shape's placeholders hold NUL, which a JSON string may only hold escaped.
    document = parse_json(shape.replace("\x00", "\\u0000").encode("utf-8"), value.span.file)
    return _with_symbols(document.root, symbols, value.origin)


_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def unshaped(shape: str, symbols: list[Symbol]) -> tuple[Part, ...]:
    """The parts of (a piece of) ``Text.shape()``: its placeholders back to their symbols."""
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(shape):
        index = int(match.group(1))
        if index < len(symbols):
            parts.extend((shape[position : match.start()], symbols[index]))
            position = match.end()
    parts.append(shape[position:])
    return join_parts(parts)


def _with_symbols(item: Value, symbols: list[Symbol], origin: str) -> Value:
    if isinstance(item, Text):
        return Text(parts=unshaped(item.literal or "", symbols) or ("",), span=item.span, origin=origin)
    if isinstance(item, ListValue):
        return ListValue(items=tuple(_with_symbols(child, symbols, origin) for child in item.items), span=item.span)
    if isinstance(item, MapValue):
        entries: dict[str, Value] = {}
        key_spans: dict[str, Span] = {}
        for key, child in item.entries.items():
            written = _PLACEHOLDER.sub(lambda m: _label(symbols, m), key)
            entries[written] = _with_symbols(child, symbols, origin)
            key_spans[written] = item.key_spans.get(key, item.span)
        return MapValue(entries=entries, key_spans=key_spans, span=item.span)
    return item


def _label(symbols: list[Symbol], match: re.Match) -> str:
    index = int(match.group(1))
    return "${" + getattr(symbols[index], "label", "?") + "}" if index < len(symbols) else match.group(0)


def _marked_error(error: yaml.MarkedYAMLError, lines: int) -> DocumentError:
    mark = error.problem_mark or error.context_mark
    if mark is not None and mark.line >= lines and error.context_mark is not None:
        mark = error.context_mark  # the text ended too soon: point where the unfinished part starts
    reason = " ".join(part for part in (error.context, error.problem) if part) or "not valid YAML"
    if mark is None:
        return DocumentError(reason)
    return DocumentError(reason, min(mark.line + 1, lines), mark.column + 1 if mark.line < lines else 1)


def _line_count(data: bytes) -> int:
    return max(1, data.count(b"\n") + (0 if data.endswith(b"\n") else 1))


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, max(0, offset)) + 1


class _Converter:
    """Iterative conversion of a libyaml node graph into values with spans."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.duplicates: list[DuplicateKey] = []

    def span(self, node: Node) -> Span:
        start, end = node.start_mark, node.end_mark
        end_line, end_column = end.line + 1, end.column + 1
        if end.column == 0 and end.line > start.line:
            # Block nodes end at the start of the next line; keep the span on the node's own lines.
            end_line, end_column = end.line, 10_000
        return Span(self.path, start.line + 1, start.column + 1, end_line, end_column)

    def convert(self, root: Node) -> Document:
        done: dict[int, Value] = {}
        sizes: dict[int, int] = {}
        in_progress: set[int] = set()
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            key = id(node)
            if key in done:
                continue
            if isinstance(node, ScalarNode):
                done[key] = self.scalar(node)
                sizes[key] = 1
                continue
            children = [v for _, v in node.value] if isinstance(node, MappingNode) else list(node.value)
            if not children_done:
                if key in in_progress:
                    raise DocumentError("recursive alias", node.start_mark.line + 1, node.start_mark.column + 1)
                in_progress.add(key)
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(children) if id(child) not in done)
                continue
            size = 1 + sum(sizes.get(id(child), 1) for child in children)
            if size > MAX_NODES:
                raise DocumentError(
                    f"aliases expand to more than {MAX_NODES:,} values (an alias bomb?)",
                    node.start_mark.line + 1,
                    node.start_mark.column + 1,
                )
            sizes[key] = size
            in_progress.discard(key)
            if isinstance(node, MappingNode):
                value: Value = self.mapping(node, done)
            else:
                value = ListValue(items=tuple(done[id(child)] for child in children), span=self.span(node))
            done[key] = self.tagged(node, value)
        return Document(root=done[id(root)], duplicates=self.duplicates)

    def scalar(self, node: ScalarNode) -> Value:
        span = self.span(node)
        if not node.style and node.value in _NULLS and not node.tag.startswith("!"):
            value: Value = Scalar(value=None, span=span)
        else:
            value = Text(parts=(node.value,), span=span)
        return self.tagged(node, value)

    def mapping(self, node: MappingNode, done: dict[int, Value]) -> MapValue:
        entries: dict[str, Value] = {}
        key_spans: dict[str, Span] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else _describe_complex_key(key_node)
            key_span = self.span(key_node)
            if key in entries:
                self.duplicates.append(DuplicateKey(key, key_spans[key], key_span))
            entries[key] = done[id(value_node)]
            key_spans[key] = key_span
        return MapValue(entries=entries, key_spans=key_spans, span=self.span(node))

    def tagged(self, node: Node, value: Value) -> Value:
        tag = node.tag
        if not tag.startswith("!"):
            return value
        if tag == "!GetAtt" and isinstance(value, Text) and value.literal is not None:
            resource, _, attribute = value.literal.partition(".")
            value = ListValue(
                items=(Text(parts=(resource,), span=value.span), Text(parts=(attribute,), span=value.span)),
                span=value.span,
            )
        name = _NAMED_TAGS.get(tag, "Fn::" + tag[1:])
        return MapValue(entries={name: value}, key_spans={name: value.span}, span=value.span)


def _describe_complex_key(node: Node) -> str:
    return f"<complex key at line {node.start_mark.line + 1}>"


class _JsonParser:
    """A small positioned JSON parser for text libyaml refuses (surrogate escapes, 1 KB keys)."""

    _TOKEN = re.compile(r'\s*(?:(?P<punct>[{}\[\],:])|(?P<string>"(?:[^"\\]|\\.)*")|(?P<atom>[^\s{}\[\],:]+))', re.S)

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def span(self, start: int, end: int) -> Span:
        import bisect

        line = bisect.bisect_right(self.line_starts, start)
        end_line = bisect.bisect_right(self.line_starts, end)
        return Span(
            self.path,
            line,
            start - self.line_starts[line - 1] + 1,
            end_line,
            end - self.line_starts[end_line - 1] + 1,
        )

    def parse(self) -> Document:
        tokens = [
            (m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup), m.end(m.lastgroup))
            for m in self._TOKEN.finditer(self.text)
            if m.lastgroup
        ]
        duplicates: list[DuplicateKey] = []
        # Each frame: [kind, start, items or entries, key_spans, pending key]
        stack: list[list] = []
        result: Value | None = None
        for kind, token, start, end in tokens:
            value: Value | None = None
            if kind == "punct":
                if token in "{[":
                    stack.append([token, start, {} if token == "{" else [], {}, None])
                    continue
                if token in "}]":
                    frame = stack.pop()
                    span = self.span(frame[1], end)
                    if frame[0] == "{":
                        value = MapValue(entries=frame[2], key_spans=frame[3], span=span)
                    else:
                        value = ListValue(items=tuple(frame[2]), span=span)
                else:
                    continue
            elif kind == "string":
                literal = json.loads(token)
                if stack and stack[-1][0] == "{" and stack[-1][4] is None:
                    frame = stack[-1]
                    span = self.span(start, end)
                    if literal in frame[2]:
                        duplicates.append(DuplicateKey(literal, frame[3][literal], span))
                    frame[4] = (literal, span)
                    continue
                value = Text(parts=(literal,), span=self.span(start, end))
            else:
                span = self.span(start, end)
                value = Scalar(value=None, span=span) if token == "null" else Text(parts=(token,), span=span)
            if not stack:
                result = value
            elif stack[-1][0] == "{":
                frame = stack[-1]
                key, key_span = frame[4]
                frame[2][key] = value
                frame[3][key] = key_span
                frame[4] = None
            else:
                stack[-1][2].append(value)
        if result is None:
            raise DocumentError("empty JSON document", 1, 1)
        return Document(root=result, duplicates=duplicates)
