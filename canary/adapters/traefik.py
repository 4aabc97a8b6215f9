"""What weights Traefik's data plane serves right now (read-only port).

HTTPRoute status runs ahead of the data plane: Traefik writes Accepted/ResolvedRefs
with the new observedGeneration before its provider throttle has applied the new
weights. The ground truth is Traefik's own API, `/api/http/services`: every match of
a route rule becomes a weighted (WRR) service named

    httproute-<ns>-<route>-gw-<gwNs>-<gw>-ep-<entryPoint>-<rule>-<hash>-wrr@kubernetesgateway

whose children are named `…-svc-<backendNs>-<service>-<backendRefIndex>` (names pass
through Traefik's Normalize: every non-alphanumeric character becomes `-`). A child
with weight 0 is not added at all, so a missing index means "served with weight 0".
Keyword-only arguments; errors are `TraefikApiError` and its subclasses
(`canary.adapters.errors`). The port is `TraefikApi` (`ports.py`); its fake is
`FakeTraefikApi` (`fakes.py`).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from canary.adapters.errors import RuleNotServed, TraefikUnavailable

PROVIDER = "kubernetesgateway"


def normalize(name: str) -> str:
    """Traefik's provider.Normalize: non-alphanumerics become '-'."""
    return re.sub(r"[^a-zA-Z0-9]+", "-", name)


@dataclass(frozen=True)
class ServedRule:
    """The weights served for one route rule, one mapping per match of the rule.

    Each mapping is backendRef index → weight; indexes with weight 0 are absent.
    """

    services: tuple[str, ...]
    weights: tuple[Mapping[int, int], ...] = field(default_factory=tuple)

    def uniform(self) -> dict[int, int] | None:
        """The weights if every match serves the same ones (else None: mid-reload)."""
        if not self.weights:
            return None
        first = dict(self.weights[0])
        return first if all(dict(w) == first for w in self.weights[1:]) else None

    def serves(self, expected: Mapping[int, int]) -> bool:
        """Whether every match serves exactly `expected` (zero weights may be omitted)."""
        want = {i: w for i, w in expected.items() if w > 0}
        return bool(self.weights) and all(dict(w) == want for w in self.weights)


def wrr_pattern(
    *, namespace: str, route: str, rule: int, kind: str = "httproute"
) -> re.Pattern[str]:
    prefix = re.escape(f"{kind}-{normalize(namespace)}-{normalize(route)}-gw-")
    return re.compile(rf"^{prefix}.+-ep-.+-{rule}-[0-9a-f]+-wrr@{PROVIDER}$")


_CHILD_INDEX = re.compile(r"-svc-.+-(\d+)(?:@[A-Za-z0-9-]+)?$")


def parse_served_rule(
    services: Iterable[Mapping[str, Any]],
    *,
    namespace: str,
    route: str,
    rule: int,
    kind: str = "httproute",
) -> ServedRule:
    """Pick the WRR services of one rule out of `/api/http/services` items."""
    pattern = wrr_pattern(namespace=namespace, route=route, rule=rule, kind=kind)
    names: list[str] = []
    weights: list[dict[int, int]] = []
    for item in sorted(services, key=lambda s: str(s.get("name", ""))):
        name = str(item.get("name", ""))
        if not pattern.match(name):
            continue
        children = (item.get("weighted") or {}).get("services") or []
        served: dict[int, int] = {}
        for child in children:
            match = _CHILD_INDEX.search(str(child.get("name", "")))
            if match is None:
                continue
            weight = int(child.get("weight", 1))
            if weight > 0:
                served[int(match.group(1))] = weight
        names.append(name)
        weights.append(served)
    if not names:
        raise RuleNotServed(f"Traefik serves no {kind} {namespace}/{route} rule {rule}")
    return ServedRule(services=tuple(names), weights=tuple(weights))


class HttpTraefikApi:
    """Reads Traefik's API (`api.insecure` or a reachable dashboard entryPoint)."""

    def __init__(self, *, base_url: str, timeout: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str) -> tuple[Any, str | None]:
        url = self.base_url + path
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                return json.load(resp), resp.headers.get("X-Next-Page")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TraefikUnavailable(f"GET {url}: {exc}") from exc

    def services(self, *, search: str) -> list[Mapping[str, Any]]:
        """All HTTP services whose name contains `search` (follows pagination)."""
        items: list[Mapping[str, Any]] = []
        page = 1
        while True:
            query = urllib.parse.urlencode({"search": search, "per_page": 500, "page": page})
            data, next_page = self._get(f"/api/http/services?{query}")
            if not isinstance(data, list):
                raise TraefikUnavailable(f"unexpected /api/http/services answer: {data!r:.200}")
            items.extend(data)
            # Traefik answers X-Next-Page: 1 on the last page
            if not data or not next_page or not next_page.isdigit() or int(next_page) <= page:
                break
            page = int(next_page)
        return items

    def served_rule(
        self, *, namespace: str, route: str, rule: int, kind: str = "httproute"
    ) -> ServedRule:
        search = f"{kind}-{normalize(namespace)}-{normalize(route)}-gw-"
        return parse_served_rule(
            self.services(search=search), namespace=namespace, route=route, rule=rule, kind=kind
        )
