"""One object the evaluator cannot parse harms only the routes that need it (issue 10.3).

Each row plants one bad object next to the seed scenario and asks the operator's question
(``effective_canary_share`` of app-team-a/api-route rule 0, built with
``skip_invalid=True``): either the split is still verified, or it is not and the culprit
names the bad object and why. The strict build (the CLI's ``evaluate``) refuses each.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canary.core.routing import BackendKey, InputError, build_table, effective_canary_share
from canary.core.routing.lint import ERROR, IGNORED_OBJECT, INFO, UNPARSABLE, lint_routes
from tests.unit.routing.routing_builders import (
    backend,
    endpoint_slice,
    gateway,
    grant,
    namespace,
    prefix,
    route,
    rule,
    seed_docs,
    service,
)

V2, V3 = BackendKey("user-service-v2", 8080), BackendKey("user-service-v3", 8080)
RE2_ONLY = r"/\pL+"  # valid RE2 (a Unicode letter class), a bad escape for Python re


def _seed_share(docs: list[Any], name: str = "api-route", rules: tuple[int, ...] = (0,)):  # type: ignore[no-untyped-def]
    table = build_table(docs, skip_invalid=True)
    return table, effective_canary_share(
        table,
        route_kind="HTTPRoute",
        route_namespace="app-team-a",
        route_name=name,
        rule_indexes=list(rules),
        stable=V2,
        canary=V3,
    )


def _re2_route(
    name: str = "re2",
    ns: str = "default",
    hostnames: list[str] | None = None,
    gw: str = "prod-gateway",
) -> dict[str, Any]:
    doc = route(
        name,
        rule(backend("x"), matches=[{"path": {"type": "RegularExpression", "value": RE2_ONLY}}]),
        namespace=ns,
        hostnames=hostnames,
        parents=[{"name": gw, "namespace": "infra"}],
    )
    return doc


def _bad_slice(svc: str, ns: str = "app-team-a") -> dict[str, Any]:
    doc = endpoint_slice(svc, namespace=ns)
    doc["endpoints"] = [{"addresses": ["x.local"], "conditions": "ready"}]  # not an object
    return doc


def _unlabelled_slice() -> dict[str, Any]:
    doc = endpoint_slice("user-service-v3", namespace="app-team-a")
    del doc["metadata"]["labels"]
    return doc


def _bad_service(name: str) -> dict[str, Any]:
    doc = service(name, namespace="app-team-a")
    doc["spec"]["ports"] = [{"port": 0}]
    return doc


def _bad_gateway(name: str) -> dict[str, Any]:
    doc = gateway(name=name)
    doc["spec"]["listeners"] = [{"name": "a", "port": 80}]  # protocol missing
    return doc


def _bad_class(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {},
    }


def _bad_namespace(name: str) -> dict[str, Any]:
    doc = namespace(name)
    doc["metadata"]["labels"] = ["gateway-access"]  # not a map
    return doc


def _own_route_broken() -> list[Any]:
    docs = seed_docs()
    api = next(d for d in docs if d["metadata"]["name"] == "api-route")
    api["spec"]["rules"][1]["matches"] = [{"path": {"type": "RegularExpression", "value": "a{"}}]
    api["spec"]["rules"][1]["matches"][0]["path"]["value"] = RE2_ONLY
    return docs


def _seed_without(name: str) -> list[Any]:
    return [d for d in seed_docs() if d["metadata"]["name"] != name]


# (what is planted, docs, culprit fragments — None: the split is still verified)
ROWS: list[tuple[str, list[Any], tuple[str, ...] | None]] = [
    (
        "RE2 route, other host",
        [*seed_docs(), _re2_route(hostnames=["other.example.com"])],
        None,
    ),
    (
        "RE2 route, same host",
        [*seed_docs(), _re2_route(hostnames=["api.example.com"])],
        ("HTTPRoute default/re2 cannot be parsed", "bad escape", "listener https"),
    ),
    (
        "RE2 route, any host",
        [*seed_docs(), _re2_route()],
        ("HTTPRoute default/re2", "may take traffic of HTTPRoute app-team-a/api-route"),
    ),
    (
        "RE2 route, namespace the listener refuses",
        [*seed_docs(), namespace("blocked"), _re2_route(ns="blocked")],
        None,
    ),
    (
        "RE2 route on another Gateway",
        [*seed_docs(), gateway(name="other"), _re2_route(gw="other")],
        None,
    ),
    (
        "route whose parentRefs cannot be read",
        [*seed_docs(), {**_re2_route(), "spec": {"parentRefs": "prod-gateway"}}],
        ("HTTPRoute default/re2", "parentRefs or hostnames cannot be read"),
    ),
    ("unlabelled EndpointSlice", [*seed_docs(), _unlabelled_slice()], None),
    ("bad slice of another Service", [*seed_docs(), _bad_slice("unrelated")], None),
    (
        "bad slice of the canary",
        [*seed_docs(), _bad_slice("user-service-v3")],
        ("EndpointSlice app-team-a/user-service-v3-abc", "endpoints of Service"),
    ),
    ("bad Service elsewhere", [*seed_docs(), _bad_service("unrelated")], None),
    (
        "bad canary Service",
        [*seed_docs(), _bad_service("user-service-v3")],
        ("Service app-team-a/user-service-v3 cannot be parsed", "spec.ports[0].port"),
    ),
    ("bad Gateway elsewhere", [*seed_docs(), _bad_gateway("other")], None),
    (
        "bad parent Gateway",
        [*_seed_without("prod-gateway"), _bad_gateway("prod-gateway")],
        ("Gateway infra/prod-gateway cannot be parsed", "attaches to it"),
    ),
    ("bad GatewayClass elsewhere", [*seed_docs(), _bad_class("other")], None),
    (
        "bad class of the parent Gateway",
        [*_seed_without("envoy-gateway"), _bad_class("envoy-gateway")],
        ("GatewayClass default/envoy-gateway", "class of Gateway infra/prod-gateway"),
    ),
    ("bad Namespace elsewhere", [*seed_docs(), _bad_namespace("unrelated")], None),
    (
        "bad Namespace of the route",
        [*_seed_without("app-team-a"), _bad_namespace("app-team-a")],
        ("Namespace default/app-team-a", "lives in it"),
    ),
    ("bad ReferenceGrant elsewhere", [*seed_docs(), {**grant("x", "y"), "spec": {}}], None),
    (
        "the route itself",
        _own_route_broken(),
        ("HTTPRoute app-team-a/api-route cannot be parsed", "spec.rules[1].matches[0]"),
    ),
]


@pytest.mark.parametrize(("planted", "docs", "culprit"), ROWS, ids=[r[0] for r in ROWS])
def test_a_bad_object_harms_only_routes_that_need_it(
    planted: str, docs: list[Any], culprit: tuple[str, ...] | None
) -> None:
    table, share = _seed_share(docs)
    assert table.objects.skipped, f"{planted}: nothing was skipped"
    if culprit is None:
        assert (share.verified, share.culprit, share.share) == (True, None, 0.1)
    else:
        assert not share.verified
        assert share.culprit is not None
        for fragment in culprit:
            assert fragment in share.culprit, (fragment, share.culprit)


@pytest.mark.parametrize(
    ("planted", "docs"),
    [(p, d) for p, d, _ in ROWS if p != "unlabelled EndpointSlice"],
    ids=[r[0] for r in ROWS if r[0] != "unlabelled EndpointSlice"],
)
def test_the_strict_build_refuses_each(planted: str, docs: list[Any]) -> None:
    with pytest.raises(InputError):
        build_table(copy.deepcopy(docs))


def test_an_unlabelled_slice_is_valid_kubernetes_and_ignored_in_both_modes() -> None:
    for skip in (False, True):
        table = build_table([*seed_docs(), _unlabelled_slice()], skip_invalid=skip)
        (s,) = table.objects.skipped
        assert s.harmless and "kubernetes.io/service-name" in s.error
        # it does not count as the canary's endpoints either way
        assert table.objects.slices == {}
    problems = lint_routes(table)
    assert [(p.severity, p.code, p.ref) for p in problems] == [
        (INFO, IGNORED_OBJECT, "EndpointSlice app-team-a/user-service-v3-abc")
    ]


def test_lint_lists_each_skipped_object_and_checks_the_rest() -> None:
    docs = [
        *seed_docs(),
        _re2_route(hostnames=["other.example.com"]),
        _bad_service("unrelated"),
        route(
            "zero",
            rule(backend("a", weight=0)),
            namespace="default",
            hostnames=["z.io"],
            parents=[{"name": "prod-gateway", "namespace": "infra"}],
        ),
    ]
    problems = lint_routes(build_table(docs, skip_invalid=True))
    found = {(p.severity, p.code, p.ref) for p in problems}
    assert (ERROR, UNPARSABLE, "HTTPRoute default/re2") in found
    assert (ERROR, UNPARSABLE, "Service app-team-a/unrelated") in found
    assert (ERROR, "all-zero-weights", "HTTPRoute default/zero") in found
    re2 = next(p for p in problems if p.ref == "HTTPRoute default/re2")
    assert "spec.rules[0].matches[0].path.value" in re2.message and "Python re" in re2.message


def test_documents_that_are_no_objects_are_skipped_leniently() -> None:
    docs = [*seed_docs(), ["not", "an", "object"], {"kind": "Widget", "apiVersion": "x/v1"}]
    table, share = _seed_share(docs)
    first = f"document #{len(seed_docs()) + 1}"
    assert [s.ref for s in table.objects.skipped] == [first, "Widget default/?"]
    assert share.verified
    with pytest.raises(InputError, match="not a mapping"):
        build_table(docs)


@pytest.mark.parametrize(
    "pattern", ["a{99999999999}", "(" * 2000 + ")" * 2000, "[[:alpha:]]+", r"/\z"]
)
def test_regexes_python_cannot_take_are_input_errors_not_crashes(pattern: str) -> None:
    doc = route(
        "r", rule(backend("a"), matches=[{"path": {"type": "RegularExpression", "value": pattern}}])
    )
    with pytest.raises(InputError, match="Python re"):
        build_table([gateway(), doc])
    assert build_table([gateway(), doc], skip_invalid=True).objects.skipped[0].ref == (
        "HTTPRoute app/r"
    )


def test_a_cross_namespace_backend_needs_the_grants_of_its_namespace() -> None:
    docs = [
        gateway(),
        route(
            "r",
            rule(
                backend("s", weight=90, namespace="b"),
                backend("c", weight=10),
                matches=[prefix("/")],
            ),
        ),
        grant("b", "app"),
        {**grant("b", "app"), "metadata": {"name": "broken", "namespace": "b"}, "spec": {}},
    ]
    table = build_table(docs, skip_invalid=True)
    share = effective_canary_share(
        table,
        route_kind="HTTPRoute",
        route_namespace="app",
        route_name="r",
        rule_indexes=[0],
        stable=BackendKey("s", 8080, "b"),
        canary=BackendKey("c", 8080),
    )
    assert not share.verified and share.culprit is not None
    assert "ReferenceGrant b/broken" in share.culprit and "namespace b" in share.culprit


# -- no document can make the lenient build or the operator's question raise ----------

_VALUES = st.one_of(
    st.none(),
    st.integers(-3, 70000),
    st.text(max_size=6),
    st.sampled_from(["RegularExpression", RE2_ONLY, "(", "*.x", "All", "Selector", "HTTP"]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["name", "type", "value", "port"]), st.text(max_size=3)),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


SEED = seed_docs()
SEED_PATHS = [(i, p) for i, d in enumerate(SEED) for p in _paths(d) if p]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SEED_PATHS), _VALUES), min_size=1, max_size=3))
def test_mutated_documents_never_crash_the_build(edits: list[tuple[Any, Any]]) -> None:
    docs = copy.deepcopy(SEED)
    for (i, path), value in edits:
        target = docs[i]
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit changed the shape
    with contextlib.suppress(InputError):  # the strict build may refuse, only like this
        build_table(copy.deepcopy(docs))
    _seed_share(docs)  # the lenient build and the question never raise
    lint_routes(build_table(docs, skip_invalid=True))


@pytest.mark.parametrize(
    "pattern", [r"/(\w+)+x", r"/(.*)*x", r"/([a-z]+)*\d", r"/(?:a|b+)+c", r"/(a{2,5})+"]
)
def test_nested_unbounded_repetition_is_refused_not_run(pattern: str) -> None:
    """Python re takes seconds to minutes on a ~20 character near-miss of these (RE2 is
    linear): refused at parse time, so a route written so is skipped, never evaluated."""
    doc = route("r", rule(backend("a"), matches=[{"path": {"type": "RegularExpression",
                                                         "value": pattern}}]))  # fmt: skip
    with pytest.raises(InputError, match="repetition inside an unbounded repetition"):
        build_table([gateway(), doc])
    header = route("h", rule(backend("a"), matches=[{"headers": [
        {"type": "RegularExpression", "name": "x", "value": pattern}]}]))  # fmt: skip
    with pytest.raises(InputError, match=r"headers\[0\]\.value"):
        build_table([gateway(), header])


@pytest.mark.parametrize(
    "pattern", [r"/api/v[0-9]+", r"/(a|b)+", r"/users/[0-9]+/orders(/.*)?", r"/x{2,}(y+){3}"]
)
def test_ordinary_regexes_are_still_evaluated(pattern: str) -> None:
    doc = route("r", rule(backend("a"), matches=[{"path": {"type": "RegularExpression",
                                                         "value": pattern}}]))  # fmt: skip
    assert build_table([gateway(), doc]).objects.skipped == ()


def test_a_backtracking_neighbour_is_named_instead_of_stalling_the_check() -> None:
    evil = _re2_route(hostnames=["api.example.com"])
    evil["spec"]["rules"][0]["matches"][0]["path"]["value"] = r"/(\w+)+x"
    _, share = _seed_share([*seed_docs(), evil])
    assert not share.verified and share.culprit is not None
    assert "HTTPRoute default/re2" in share.culprit and "unbounded repetition" in share.culprit
