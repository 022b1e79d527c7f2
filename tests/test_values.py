"""The value domain: choices, worlds and selection."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conftest import SPAN, choice
from ibpolicy_lint.values import (
    Absent,
    Choice,
    ListValue,
    RegionOf,
    Text,
    Unknown,
    as_bool,
    common_conditions,
    decisions_in,
    members,
    select,
    symbol_at,
    text,
    worlds,
)


def test_every_world_selects_one_branch_of_each_decision():
    value = ListValue(
        items=(choice("A", text("a1", SPAN), text("a2", SPAN)), choice("B", text("b1", SPAN), Absent(span=SPAN))), span=SPAN
    )
    every = worlds(decisions_in(value))
    assert len(every) == 4
    selected = sorted(tuple(item.literal for item in select(value, world).items) for world in every)
    assert selected == [("a1",), ("a1", "b1"), ("a2",), ("a2", "b1")]


def test_a_branch_the_choice_does_not_write_is_unknown_not_absent():
    row = Choice(subject="AWS::Region", branches=(("us-east-1", text("k", SPAN)),), span=SPAN)
    assert isinstance(select(row, {"AWS::Region": "eu-west-1"}), Unknown)


def test_members_carry_the_assumption_they_exist_under():
    value = ListValue(items=(text("x", SPAN), choice("A", text("y", SPAN), Absent(span=SPAN))), span=SPAN)
    assert [(sorted(a), m.literal) for a, m in members(value)] == [([], "x"), ([("A", "true")], "y")]


def test_common_conditions_names_what_tells_violating_worlds_apart():
    every = [{"A": "true", "B": "true"}, {"A": "true", "B": "false"}, {"A": "false", "B": "true"}, {"A": "false", "B": "false"}]
    assert common_conditions(every[:2], every) == {"A": "true"}


@given(st.sampled_from(["true", "TRUE", " True ", "false", "False"]))
def test_booleans_from_strings(raw):
    assert as_bool(text(raw, SPAN)) is (raw.strip().lower() == "true")


@given(st.lists(st.sampled_from("ABCDEFGHIJ"), min_size=0, max_size=12))
def test_worlds_are_complete_and_bounded(subjects):
    value = ListValue(items=tuple(choice(s, text("1", SPAN), text("0", SPAN)) for s in subjects), span=SPAN)
    distinct = set(subjects)
    every = worlds(decisions_in(value))
    assert len(every) == min(2 ** len(distinct), 256)
    assert len({tuple(sorted(w.items())) for w in every}) == len(every)


def test_symbol_at_reads_a_piece_of_a_shape_that_is_one_placeholder():
    region = RegionOf("stack:t")
    shape, symbols = Text(parts=("arn:aws:kms:", region, ":1:key/k"), span=SPAN).shape()
    pieces = shape.split(":")
    assert symbol_at(pieces[3], symbols) == region
    assert symbol_at("eu-" + pieces[3], symbols) is None
    assert symbol_at("eu-west-1", symbols) is None
