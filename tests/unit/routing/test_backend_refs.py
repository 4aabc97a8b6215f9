"""The one reader of a raw route's backendRefs (routing.backend_refs), in its two modes.

The differential tests pin "no behaviour change" of the unification: the reference
functions below are the readers route handling (routes/rules.live_key, patching.weight_of)
and the evaluator (parse_rules._backend_ref) had before they shared one; on any input the
shared reader gives the same identity, weight or error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.core.routes.patching import weight_of
from canary.core.routes.rules import live_key
from canary.core.routing import backend_refs as br
from canary.core.routing import objects as o
from canary.core.routing.fieldcheck import Doc
from canary.core.routing.parse import parse_objects

DOC = Doc("HTTPRoute", "app", "web")


# --- the readers as they were before (reference oracles) ------------------------------


def _old_live_key(ref: Mapping[str, Any], route_namespace: str) -> tuple[Any, ...]:
    port = ref.get("port")
    return (
        str(ref.get("group") or ""),
        str(ref.get("kind") or "Service"),
        str(ref.get("namespace") or route_namespace),
        str(ref.get("name", "")),
        port if isinstance(port, int) else None,
    )


def _old_weight_of(ref: Mapping[str, Any]) -> int:
    weight = ref.get("weight", 1)
    return weight if isinstance(weight, int) and not isinstance(weight, bool) else 1


def _old_strict(raw: Any, p: str, ns: str) -> tuple[Any, ...]:
    doc = DOC
    weight = doc.integer(raw, "weight", f"{p}.weight", 0, 1_000_000)
    group = doc.opt_str(raw, "group", f"{p}.group", o.CORE_GROUP)
    kind = doc.opt_str(raw, "kind", f"{p}.kind", "Service")
    name = doc.req_str(raw, "name", f"{p}.name")
    port = doc.port(raw, "port", f"{p}.port")
    if group == o.CORE_GROUP and kind == "Service" and port is None:
        raise doc.fail(f"{p}.port", "required for a Service reference")
    namespace = doc.opt_str(raw, "namespace", f"{p}.namespace", ns) or ns
    return (group, kind, namespace, name, port, 1 if weight is None else weight)


def _new_strict(raw: Any, p: str, ns: str) -> tuple[Any, ...]:
    weight = br.backend_weight(DOC, raw, p)
    return (*br.backend_key(DOC, raw, p, ns, require_port=True), weight)


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except o.InputError as exc:
        return ("error", str(exc))


_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 70000),
    st.sampled_from(["", "Service", "ServiceImport", "mcs", "other", "80", "a"]),
    st.lists(st.integers(0, 3), max_size=2),
)
_KEYS = ("group", "kind", "name", "namespace", "port", "weight")
_REF = st.dictionaries(st.sampled_from(_KEYS), _VALUE, max_size=6)


@given(_REF, st.sampled_from(["app", ""]))
def test_lenient_mode_reads_what_route_handling_read_before(ref: dict[str, Any], ns: str) -> None:
    assert live_key(ref, ns) == _old_live_key(ref, ns)
    assert weight_of(ref) == _old_weight_of(ref)


@given(_REF, st.sampled_from(["app", "other"]))
def test_strict_mode_reads_what_the_evaluator_read_before(ref: dict[str, Any], ns: str) -> None:
    p = "spec.rules[0].backendRefs[1]"
    assert _outcome(_new_strict, ref, p, ns) == _outcome(_old_strict, ref, p, ns)


_VALID = st.fixed_dictionaries(
    {"name": st.sampled_from(["web-v1", "web-v2"])},
    optional={
        "group": st.sampled_from(["", "multicluster.x-k8s.io"]),
        "kind": st.sampled_from(["Service", "ServiceImport"]),
        "namespace": st.sampled_from(["app", "other"]),
        "port": st.integers(1, 65535),
        "weight": st.integers(0, 1_000_000),
    },
)


@given(_VALID)
def test_both_modes_agree_on_every_valid_backend_ref(ref: dict[str, Any]) -> None:
    strict = _outcome(_new_strict, ref, "b", "app")
    if strict[0] == "error":  # the one CEL rule: a core Service reference needs a port
        assert (
            "port" not in ref and ref.get("group", "") == "" and ref.get("kind") != "ServiceImport"
        )
        assert strict[1].endswith("b.port: required for a Service reference")
        return
    lenient = (
        *br.backend_key(br.LENIENT, ref, "b", "app"),
        br.backend_weight(br.LENIENT, ref, "b"),
    )
    assert strict[1] == lenient


def test_defaults() -> None:
    assert br.backend_key(br.LENIENT, {"name": "a"}, "b", "app") == (
        "",
        "Service",
        "app",
        "a",
        None,
    )
    assert br.backend_weight(br.LENIENT, {"name": "a"}, "b") == br.DEFAULT_WEIGHT == 1
    # lenient: wrong types read as the default, ranges are not checked
    assert br.backend_key(
        br.LENIENT, {"name": "a", "group": 0, "kind": "", "port": "80"}, "b", "n"
    ) == (
        "",
        "Service",
        "n",
        "a",
        None,
    )
    assert br.backend_weight(br.LENIENT, {"weight": -3}, "b") == -3
    assert br.backend_weight(br.LENIENT, {"weight": True}, "b") == 1


def test_lenient_lists_and_failures() -> None:
    assert br.rules_of(br.LENIENT, {}) == []
    assert br.backend_refs_of(br.LENIENT, {"backendRefs": [{"name": "a"}]}, "r") == [{"name": "a"}]
    for spec in (None, {"rules": None}, {"rules": {}}, {"rules": [1]}):
        with pytest.raises(br.ShapeError) as err:
            br.rules_of(br.LENIENT, spec)
        assert err.value.path == "spec.rules"
    with pytest.raises(br.ShapeError) as err:
        br.backend_refs_of(br.LENIENT, {"backendRefs": ["a"]}, "spec.rules[2]")
    assert err.value.path == "spec.rules[2].backendRefs"
    with pytest.raises(br.ShapeError, match=r"b\.port: required for a Service reference"):
        br.backend_key(br.LENIENT, {"name": "a"}, "b", "n", require_port=True)


def test_raw_indexes_are_kept_and_the_default_rule_is_the_evaluators_alone() -> None:
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"parentRefs": [{"name": "gw"}]},
    }
    assert br.rules_of(br.LENIENT, route["spec"]) == []  # nothing to address
    (parsed,) = parse_objects([route]).routes
    assert len(parsed.rules) == 1 and parsed.rules[0].backends == ()  # CRD default rule
