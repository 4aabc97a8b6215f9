"""Render the Rollout CRD from the pydantic models (``make crds``; a test keeps it equal).

Pydantic emits JSON Schema; the API server wants a *structural* OpenAPI v3 schema: no
``$ref``, no ``anyOf`` with null, no titles, ``x-kubernetes-int-or-string`` for int|str,
``maxItems``/``maxLength`` so that CEL cost estimates pass. This module converts one into
the other and adds what only the CRD has: printer columns, the status subresource, and a
preserved ``status.kopf`` so kopf's own state is never pruned.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from canary.core.models import (
    GROUP,
    KIND,
    OPERATOR_DEFAULT,
    PLURAL,
    VERSION,
    RolloutSpec,
    RolloutStatus,
)

_KEEP = {
    "type",
    "description",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "enum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "items",
    "properties",
    "required",
    "additionalProperties",
    "format",
    "x-kubernetes-validations",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
}


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].split("/")[-1]]
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _resolve(merged, defs)
        return {k: _resolve(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, defs) for v in node]
    return node


def _structural(node: dict[str, Any]) -> dict[str, Any]:
    node = dict(node)
    if "anyOf" in node:
        variants = [v for v in node.pop("anyOf") if v.get("type") != "null"]
        types = {v.get("type") for v in variants}
        if types == {"integer", "string"}:
            node["x-kubernetes-int-or-string"] = True
        elif len(variants) == 1:
            node = {**variants[0], **node}
        else:  # pragma: no cover - the models use no other unions
            raise ValueError(f"unsupported union: {variants}")
    if (
        node.get("default") is None
        or isinstance(node.get("default"), dict | list)
        or node.pop(OPERATOR_DEFAULT, False)
    ):
        node.pop("default", None)
    # pydantic's int-or-string hint sits in json_schema_extra["items"]
    if node.get("type") == "object" and "properties" in node:
        node["properties"] = {k: _structural(v) for k, v in node["properties"].items()}
        node.pop("additionalProperties", None)
    elif node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _structural(node["additionalProperties"])
    if node.get("type") == "array" and "items" in node:
        node["items"] = _structural(node["items"])
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        # JSON Schema 2020 puts the number in exclusive*; OpenAPI v3.0 wants a boolean
        if isinstance(node.get(exclusive), int | float) and not isinstance(node[exclusive], bool):
            node[bound] = node[exclusive]
            node[exclusive] = True
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
    return {k: v for k, v in node.items() if k in _KEEP}


def model_schema(model: type[Any]) -> dict[str, Any]:
    """Structural OpenAPI v3 schema for a pydantic model (by alias)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _structural(_resolve(raw, defs))


def rollout_crd() -> dict[str, Any]:
    """The complete CustomResourceDefinition object."""
    spec = model_schema(RolloutSpec)
    status = model_schema(RolloutStatus)
    status["properties"]["kopf"] = {
        "type": "object",
        "description": "kopf's own state; preserved, never pruned.",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    # Free-form string maps need a bounded value type for CEL-free status; keep as is.
    columns = [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Step", "type": "string", "jsonPath": ".status.stepLabel"},
        {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight"},
        {"name": "Effective", "type": "number", "jsonPath": ".status.effectiveWeight"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Stable", "type": "string", "jsonPath": ".spec.stable.name", "priority": 1},
        {"name": "Canary", "type": "string", "jsonPath": ".spec.canary.name", "priority": 1},
        {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["cro"],
                "categories": ["canary"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A Rollout walks a canary backend through weight "
                            "steps on a user-owned Gateway API route.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def render() -> str:
    header = "# Generated by `make crds` from canary/core/models.py. Do not edit.\n"
    body = yaml.safe_dump(json.loads(json.dumps(rollout_crd())), sort_keys=False, width=100)
    return header + body


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(render())
