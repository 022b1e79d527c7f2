"""YAML/JSON parsing: positions, source text kept, hostile shapes refused cleanly."""

from __future__ import annotations

import pytest

from ibpolicy_lint.documents import DocumentError, parse_json, parse_yaml
from ibpolicy_lint.values import ListValue, MapValue, Scalar, Text


def test_scalars_keep_their_source_text():
    doc = parse_yaml(b"Account: 012345670123\nVersion: 2012-10-17\non: yes\nEmpty:\nFlag: true\n", "t.yaml")
    entries = doc.root.entries
    assert entries["Account"].literal == "012345670123"
    assert entries["Version"].literal == "2012-10-17"
    assert entries["on"].literal == "yes"
    assert isinstance(entries["Empty"], Scalar) and entries["Empty"].value is None
    assert entries["Flag"].literal == "true"


def test_spans_point_at_values():
    doc = parse_yaml(b"Resources:\n  Key:\n    KmsKeyId: alias/aws/ebs\n", "t.yaml")
    value = doc.root.entries["Resources"].entries["Key"].entries["KmsKeyId"]
    assert (value.span.line, value.span.column, value.span.end_line, value.span.end_column) == (3, 15, 3, 28)


def test_short_form_tags_become_long_form():
    doc = parse_yaml(b"a: !Ref Key\nb: !GetAtt Key.Arn\nc: !Sub 'x-${AWS::Region}'\nd: !If [C, 1, 2]\n", "t.yaml")
    e = doc.root.entries
    assert list(e["a"].entries) == ["Ref"] and e["a"].entries["Ref"].literal == "Key"
    getatt = e["b"].entries["Fn::GetAtt"]
    assert isinstance(getatt, ListValue) and [i.literal for i in getatt.items] == ["Key", "Arn"]
    assert list(e["c"].entries) == ["Fn::Sub"]
    assert list(e["d"].entries) == ["Fn::If"]


def test_duplicate_keys_are_reported_with_both_lines():
    doc = parse_yaml(b"a: 1\nb: 2\na: 3\n", "t.yaml")
    (duplicate,) = doc.duplicates
    assert (duplicate.key, duplicate.first.line, duplicate.second.line) == ("a", 1, 3)
    assert doc.root.entries["a"].literal == "3"


@pytest.mark.parametrize("data", [b"\xef\xbb\xbfa: 1\n", "a: 1\n".encode("utf-16"), b"a: 1\r\nb: 2\r\n"])
def test_boms_utf16_and_crlf(data):
    assert parse_yaml(data, "t.yaml").root.entries["a"].literal == "1"


def test_alias_bomb_is_refused():
    lines = [b"a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, previous in zip("bcdefg", "abcdef", strict=True):
        lines.append(b"%s: &%s [%s]" % (name.encode(), name.encode(), b", ".join([b"*" + previous.encode()] * 10)))
    with pytest.raises(DocumentError, match="alias bomb"):
        parse_yaml(b"\n".join(lines), "bomb.yaml")


def test_recursive_alias_is_refused():
    with pytest.raises(DocumentError, match="recursive alias"):
        parse_yaml(b"a: &a [*a]\n", "loop.yaml")


def test_deep_nesting_does_not_recurse_in_python():
    depth = 900
    doc = parse_yaml(b"a: " + b"[" * depth + b"]" * depth, "deep.yaml")
    node = doc.root.entries["a"]
    for _ in range(depth - 1):
        node = node.items[0]
    assert isinstance(node, ListValue)


def test_syntax_error_has_a_position():
    with pytest.raises(DocumentError) as error:
        parse_yaml(b"a: 1\n b: 2\n", "t.yaml")
    assert error.value.line == 2


def test_json_libyaml_refuses_still_parses_with_positions():
    # Surrogate-pair escapes are valid JSON that libyaml rejects.
    data = b'{\n  "Name": "\\ud83d\\ude00",\n  "Resources": {"A": {"Type": "AWS::KMS::Key"}}\n}\n'
    doc = parse_json(data, "t.json")
    assert doc.root.entries["Name"].literal == "\U0001f600"
    resources = doc.root.entries["Resources"]
    assert isinstance(resources, MapValue) and resources.span.line == 3
    assert isinstance(resources.entries["A"].entries["Type"], Text)


def test_invalid_json_reports_json_position():
    with pytest.raises(DocumentError) as error:
        parse_json(b'{\n  "a": 1,\n  "b": [1, 2}\n', "t.json")
    assert error.value.line == 3
