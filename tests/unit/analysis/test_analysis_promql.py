"""Rendering: placeholders, validation, escaping for string and regex contexts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.core.analysis.promql import (
    VARIABLES,
    TemplateError,
    escape_regex,
    escape_string,
    placeholders,
    prometheus_duration,
    render,
    traefik_normalize,
)
from tests.unit.analysis.promlite import lex_string, selectors

HOSTILE = [
    'x"} or vector(1) #',
    'a",service=~".*',
    "a\\",
    "a\nb",
    "a\x00b",
    ".*",
    "a|b",
    "UPPER",
    "-lead",
    "trail-",
    "a..b",
    "ünï",
    "a" * 254,
    "",
    "{{namespace}}",
]


def test_render_fills_string_regex_and_traefik_contexts() -> None:
    out = render(
        'm{a="{{ namespace }}",b=~"{{route|re}}",c=~"{{ route | traefik }}-x"}[{{interval}}]',
        {"namespace": "app", "route": "api.v2", "interval": "90s"},
    )
    assert out == 'm{a="app",b=~"api\\\\.v2",c=~"api-v2-x"}[1m30s]'
    [sel] = selectors(out)
    assert [(m.label, m.op, m.value) for m in sel.matchers] == [
        ("a", "=", "app"),
        ("b", "=~", "api\\.v2"),
        ("c", "=~", "api-v2-x"),
    ]


def test_unknown_variable_in_template_is_named() -> None:
    with pytest.raises(TemplateError, match=r"unknown variable \{\{service\}\}"):
        render('m{s="{{service}}"}', {"namespace": "a"})


def test_unknown_variable_given_is_named() -> None:
    with pytest.raises(TemplateError, match="unknown variable 'svc' given"):
        render("m", {"svc": "a"})


def test_known_variable_without_value() -> None:
    with pytest.raises(TemplateError, match=r"\{\{route\}\} has no value"):
        render('m{s="{{route}}"}', {"namespace": "a"})


def test_unknown_filter() -> None:
    with pytest.raises(TemplateError, match="unknown filter 'raw'"):
        render("{{namespace|raw}}", {"namespace": "a"})


@pytest.mark.parametrize("template", ["m{{namespace", "m{{ 1x }}", "m}}"])
def test_malformed_placeholders(template: str) -> None:
    with pytest.raises(TemplateError, match="malformed"):
        render(template, {"namespace": "a"})


@pytest.mark.parametrize("name", ["namespace", "route", "canary", "backend", "gateway"])
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_names_are_rejected(name: str, value: str) -> None:
    with pytest.raises(TemplateError, match=name):
        render(f'm{{x="{{{{{name}}}}}"}}', {name: value})


def test_names_that_are_valid() -> None:
    assert render("{{route}}", {"route": "api.example-1"}) == "api.example-1"
    assert render("{{namespace}}", {"namespace": "a" * 63}) == "a" * 63
    with pytest.raises(TemplateError):
        render("{{namespace}}", {"namespace": "a.b"})  # namespaces are DNS labels


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rule", "-1"),
        ("rule", "01"),
        ("rule", "1 or 1"),
        ("backend_index", "x"),
        ("route_kind", "TCPRoute"),
        ("quantile", "1"),
        ("quantile", "abc"),
        ("quantile", "0"),
    ],
)
def test_invalid_values_of_other_kinds(name: str, value: str) -> None:
    with pytest.raises(TemplateError, match=name):
        render(f"{{{{{name}}}}}", {name: value})


@pytest.mark.parametrize(
    ("go", "prom"),
    [("30s", "30s"), ("90s", "1m30s"), ("1h30m", "1h30m"), ("250ms", "250ms"), ("1.5m", "1m30s")],
)
def test_interval_renders_as_prometheus_range(go: str, prom: str) -> None:
    assert render("{{interval}}", {"interval": go}) == prom


@pytest.mark.parametrize("bad", ["0", "30", "abc", "1.0005ms", "5m]) or vector(1"])
def test_invalid_intervals(bad: str) -> None:
    with pytest.raises(TemplateError, match="interval"):
        render("{{interval}}", {"interval": bad})


def test_prometheus_duration_direct() -> None:
    assert prometheus_duration(3661.5) == "1h1m1s500ms"
    with pytest.raises(TemplateError):
        prometheus_duration(0)


def test_quantile_and_kind_and_index_render() -> None:
    out = render(
        "{{quantile}} {{route_kind}} {{rule}} {{backend_index}}",
        {"quantile": "0.95", "route_kind": "GRPCRoute", "rule": "3", "backend_index": "0"},
    )
    assert out == "0.95 GRPCRoute 3 0"


def test_placeholders_lists_first_use_order() -> None:
    assert placeholders("{{b}} {{ a|re }} {{b}}") == ["b", "a"]
    assert "interval" in VARIABLES


@pytest.mark.parametrize("value", HOSTILE)
def test_escape_string_round_trips_hostile_values(value: str) -> None:
    literal = '"' + escape_string(value) + '"'
    assert lex_string(literal, 0) == (value, len(literal))


@pytest.mark.parametrize("value", HOSTILE)
def test_escape_regex_matches_exactly_the_value(value: str) -> None:
    literal = '"' + escape_regex(value) + '"'
    pattern, end = lex_string(literal, 0)
    assert end == len(literal)
    assert re.fullmatch(pattern, value)
    assert not re.fullmatch(pattern, value + "x")
    if value:
        assert not re.fullmatch(pattern, "x" + value[1:]) or value[0] == "x"


@given(st.text())
def test_escape_string_property(value: str) -> None:
    literal = '"' + escape_string(value) + '"'
    assert lex_string(literal, 0) == (value, len(literal))


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
def test_escape_regex_property(value: str) -> None:
    pattern, _ = lex_string('"' + escape_regex(value) + '"', 0)
    assert re.fullmatch(pattern, value, flags=re.DOTALL)
    assert not re.fullmatch(pattern, value + "a", flags=re.DOTALL)


def test_a_hostile_value_cannot_add_a_matcher() -> None:
    # even without validation, the escaped value stays inside one literal
    query = 'm{service="' + escape_string('x",code="200') + '"}'
    [sel] = selectors(query)
    assert len(sel.matchers) == 1
    assert sel.matchers[0].value == 'x",code="200'


def test_traefik_normalize() -> None:
    assert traefik_normalize("api.example_v2/x") == "api-example-v2-x"
