"""Merge-patch diff: {} when equal, None for removed keys, nested dicts, atomic lists."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.core.rollout.statusdiff import apply, diff

ROWS: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ({}, {}, {}),
    ({"a": 1}, {"a": 1}, {}),
    ({"a": 1}, {"a": 2}, {"a": 2}),
    ({"a": 1}, {}, {"a": None}),
    ({}, {"a": [1]}, {"a": [1]}),
    ({"a": [1, 2]}, {"a": [1]}, {"a": [1]}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}),
    ({"a": {"b": 1}}, {"a": {}}, {"a": {"b": None}}),
    ({"a": {"b": 1}}, {"a": 5}, {"a": 5}),
    ({"a": 1}, {"a": True}, {"a": True}),
    ({"a": 1}, {"a": 1.5}, {"a": 1.5}),
]


@pytest.mark.parametrize(("old", "new", "patch"), ROWS)
def test_diff(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert diff(old, new) == patch
    assert apply(old, patch) == new


def test_apply_merges_into_a_missing_dict() -> None:
    assert apply({}, {"a": {"b": 1}}) == {"a": {"b": 1}}


leaves = st.one_of(
    st.integers(), st.text(max_size=3), st.booleans(), st.lists(st.integers(), max_size=2)
)
docs = st.recursive(
    st.dictionaries(st.text("abc", max_size=2), leaves, max_size=4),
    lambda inner: st.dictionaries(st.text("abc", max_size=2), st.one_of(leaves, inner), max_size=4),
    max_leaves=12,
)


@given(docs, docs)
def test_patch_turns_old_into_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert apply(old, diff(old, new)) == new
    assert diff(new, new) == {}
