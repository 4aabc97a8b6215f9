"""RFC 6902 through the jsonpatch library (canary.core.routes.patching.apply_patch)."""

from __future__ import annotations

from typing import Any

import pytest

from canary.core.routes.patching import PatchConflict, PatchError, apply_patch


def doc() -> dict[str, Any]:
    return {"a": {"b": [1, 2, 3], "x/y": 1, "m~n": 2, "t": True, "f": 1.0}, "s": "str"}


@pytest.mark.parametrize(
    ("ops", "check"),
    [
        ([{"op": "replace", "path": "/a/b/1", "value": 9}], lambda d: d["a"]["b"] == [1, 9, 3]),
        ([{"op": "add", "path": "/a/b/-", "value": 4}], lambda d: d["a"]["b"] == [1, 2, 3, 4]),
        ([{"op": "add", "path": "/a/b/0", "value": 0}], lambda d: d["a"]["b"] == [0, 1, 2, 3]),
        ([{"op": "add", "path": "/a/b/3", "value": 4}], lambda d: d["a"]["b"] == [1, 2, 3, 4]),
        ([{"op": "remove", "path": "/a/b/0"}], lambda d: d["a"]["b"] == [2, 3]),
        ([{"op": "remove", "path": "/a/x~1y"}], lambda d: "x/y" not in d["a"]),
        ([{"op": "replace", "path": "/a/m~0n", "value": 5}], lambda d: d["a"]["m~n"] == 5),
        (
            [{"op": "add", "path": "/a/new", "value": {"k": [1]}}],
            lambda d: d["a"]["new"]["k"] == [1],
        ),
        ([{"op": "add", "path": "/s", "value": None}], lambda d: d["s"] is None),
        ([{"op": "test", "path": "/a/f", "value": 1}], lambda d: True),
        ([{"op": "test", "path": "/a/t", "value": True}], lambda d: True),
        ([{"op": "test", "path": "/a/b", "value": [1, 2, 3.0]}], lambda d: True),
        ([{"op": "test", "path": "", "value": doc()}], lambda d: True),
    ],
)
def test_ops(ops: list[dict[str, Any]], check: Any) -> None:
    original = doc()
    assert check(apply_patch(original, ops))
    assert original == doc()


@pytest.mark.parametrize(
    "op",
    [
        {"op": "test", "path": "/a/b/0", "value": 2},
        {"op": "test", "path": "/a/t", "value": 1},  # a boolean is not a number
        {"op": "test", "path": "/a/f", "value": True},
        {"op": "test", "path": "/a/b", "value": [1, 2]},
        {"op": "test", "path": "/a", "value": {"b": [1, 2, 3]}},
        {"op": "test", "path": "/s", "value": 1},
    ],
)
def test_failed_test_is_a_conflict(op: dict[str, Any]) -> None:
    with pytest.raises(PatchConflict):
        apply_patch(doc(), [op])


@pytest.mark.parametrize(
    ("op", "text"),
    [
        ({"op": "bogus", "path": "/a"}, "bogus"),
        ({"op": "replace", "path": 3, "value": 1}, "path"),
        ({"op": "replace", "path": "a", "value": 1}, "must start with /"),
        ({"op": "replace", "path": "", "value": 1}, "whole document"),
        ({"op": "replace", "path": "/a/zz", "value": 1}, "zz"),
        ({"op": "remove", "path": "/a/zz"}, "zz"),
        ({"op": "replace", "path": "/a/b"}, "value"),
        ({"op": "test", "path": "/nope/x"}, "nope"),
        ({"op": "test", "path": "/a/b/3", "value": 1}, "3"),
        ({"op": "replace", "path": "/a/b/-", "value": 1}, "-"),
        ({"op": "add", "path": "/a/b/5", "value": 1}, "outside of list"),
        ({"op": "test", "path": "/s/x", "value": 1}, "x"),
        ({"op": "add", "path": "/s/x", "value": 1}, ""),
    ],
)
def test_errors(op: dict[str, Any], text: str) -> None:
    """Every problem is a ``PatchError`` naming what is wrong (the library's message)."""
    original = doc()
    with pytest.raises(PatchError, match=text):
        apply_patch(original, [op])
    assert original == doc()


def test_an_index_that_is_not_one_fails_the_test_op() -> None:
    with pytest.raises(PatchConflict):
        apply_patch(doc(), [{"op": "test", "path": "/a/b/01", "value": 1}])


def test_all_or_nothing() -> None:
    original = doc()
    ops = [
        {"op": "replace", "path": "/s", "value": "changed"},
        {"op": "test", "path": "/a/b/0", "value": 99},
    ]
    with pytest.raises(PatchConflict):
        apply_patch(original, ops)
    assert original["s"] == "str"


def test_value_is_copied() -> None:
    value = {"k": [1]}
    out = apply_patch(doc(), [{"op": "add", "path": "/v", "value": value}])
    value["k"].append(2)
    assert out["v"] == {"k": [1]}
