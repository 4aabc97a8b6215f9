"""The checked-in CRD equals what the models generate, and has what the contract needs."""

from __future__ import annotations

from pathlib import Path

import yaml

from canary import crdgen

ROOT = Path(__file__).resolve().parents[3]


def _crd() -> dict:
    return yaml.safe_load((ROOT / "crds" / "rollout.yaml").read_text())


def test_checked_in_crd_equals_generated() -> None:
    assert (ROOT / "crds" / "rollout.yaml").read_text() == crdgen.render(), (
        "crds/rollout.yaml is stale: run `make crds`"
    )


def test_names_and_scope() -> None:
    spec = _crd()["spec"]
    assert spec["group"] == "canary.dev"
    assert spec["names"]["plural"] == "rollouts"
    assert spec["names"]["kind"] == "Rollout"
    assert spec["names"]["shortNames"] == ["cro"]
    assert spec["names"]["categories"] == ["canary"]
    version = spec["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    version = _crd()["spec"]["versions"][0]
    cols = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c] == [
        "Phase",
        "Step",
        "Weight",
        "Effective",
        "Age",
    ]
    assert cols["Step"]["jsonPath"] == ".status.stepLabel"
    assert {n for n, c in cols.items() if c.get("priority") == 1} == {"Stable", "Canary", "Message"}


def _walk(node: object, path: str = ""):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_schema_is_structural_and_bounded() -> None:
    schema = _crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path}: arrays need maxItems for CEL cost"


def test_spec_strings_have_max_length() -> None:
    spec = _crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for path, node in _walk(spec):
        if node.get("type") == "string" and "enum" not in node:
            assert "maxLength" in node, path


def test_cel_rules_present() -> None:
    spec = _crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = [r["rule"] for _, n in _walk(spec) for r in n.get("x-kubernetes-validations", [])]
    assert any("isSorted" in r for r in rules)
    assert any("self.size() >= 1" in r for r in rules)
    assert any("self.stable.name == self.canary.name" in r for r in rules)
    assert any("self.weight >= 0 && self.weight <= 100" in r for r in rules)
    assert any("has(self.template) != has(self.query)" in r for r in rules)


def test_kopf_state_is_preserved() -> None:
    status = _crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["properties"]["kopf"]["x-kubernetes-preserve-unknown-fields"] is True


def test_durations_are_validated_by_pattern() -> None:
    spec = _crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "pattern" in spec["properties"]["progressDeadline"]
    assert "pattern" in spec["properties"]["analysis"]["properties"]["interval"]
