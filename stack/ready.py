"""Readiness waits for the local stack and for route changes.

After a route change, status runs ahead of the data plane (docs/local-control-plane.md,
"Readiness after a route change"): first wait for Accepted and ResolvedRefs on every
parent at the route's current generation, then for Traefik's API to serve the new
weights. Only then count traffic.

CLI (used by hack/cluster-up.sh):
    python -m stack.ready route --kubeconfig F --traefik-api URL --namespace NS --name R \
                                --rule 0 --weights 90,10 [--timeout 60]
    python -m stack.ready targets --prometheus URL --jobs traefik,backends
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from kubernetes import client, config

from canary.adapters.errors import TraefikApiError
from canary.adapters.ports import TraefikApi
from canary.adapters.traefik import HttpTraefikApi

GATEWAY_GROUP = "gateway.networking.k8s.io"
T = TypeVar("T")


class NotReady(Exception):
    """A wait ran out of time; the message says what was last seen."""


def poll(
    check: Callable[[], tuple[bool, T]], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """Call `check` until it returns (True, value); return the value or raise NotReady."""
    deadline = time.monotonic() + timeout
    while True:
        ok, value = check()
        if ok:
            return value
        if time.monotonic() >= deadline:
            raise NotReady(f"timed out after {timeout:g} s waiting for {what}; last seen: {value}")
        time.sleep(interval)


def http_ok(url: str, *, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def wait_http_ok(url: str, *, timeout: float = 30.0) -> None:
    poll(lambda: (http_ok(url), url), timeout=timeout, what=f"HTTP 2xx from {url}")


# --- Gateway API route status -----------------------------------------------------------


def route_status(route: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether every parent shows Accepted and ResolvedRefs True at the current generation."""
    generation = route.get("metadata", {}).get("generation", 0)
    parents = route.get("status", {}).get("parents") or []
    if not parents:
        return False, "no parent status yet"
    for parent in parents:
        ref = parent.get("parentRef", {}).get("name", "?")
        conds = {c["type"]: c for c in parent.get("conditions", [])}
        for kind in ("Accepted", "ResolvedRefs"):
            cond = conds.get(kind)
            if cond is None:
                return False, f"parent {ref}: no {kind} condition"
            seen = cond.get("observedGeneration", 0)
            if seen < generation:
                return False, f"parent {ref}: {kind} at generation {seen} < {generation}"
            if cond.get("status") != "True":
                why = f"{cond.get('reason')}: {cond.get('message')}"
                return False, f"parent {ref}: {kind}={cond.get('status')} ({why})"
    return True, f"accepted at generation {generation}"


def wait_route_accepted(
    api: client.ApiClient,
    *,
    namespace: str,
    name: str,
    plural: str = "httproutes",
    timeout: float = 30.0,
) -> None:
    objects = client.CustomObjectsApi(api)

    def check() -> tuple[bool, str]:
        try:
            route: Any = objects.get_namespaced_custom_object(
                GATEWAY_GROUP, "v1", namespace, plural, name
            )
        except client.ApiException as exc:
            return False, f"GET failed: {exc.status} {exc.reason}"
        return route_status(route)

    poll(check, timeout=timeout, what=f"{plural} {namespace}/{name} Accepted+ResolvedRefs")


def wait_traefik_serves(
    traefik: TraefikApi,
    *,
    namespace: str,
    route: str,
    rule: int,
    weights: Mapping[int, int],
    kind: str = "httproute",
    timeout: float = 30.0,
) -> float:
    """Wait until Traefik serves `weights` (backendRef index → weight); return seconds waited."""
    start = time.monotonic()

    def check() -> tuple[bool, str]:
        try:
            served = traefik.served_rule(namespace=namespace, route=route, rule=rule, kind=kind)
        except TraefikApiError as exc:
            return False, str(exc)
        return served.serves(weights), f"{[dict(w) for w in served.weights]}"

    poll(
        check,
        timeout=timeout,
        what=f"Traefik serving {namespace}/{route} rule {rule} at {dict(weights)}",
    )
    return time.monotonic() - start


def wait_route_applied(
    api: client.ApiClient,
    traefik: TraefikApi,
    *,
    namespace: str,
    name: str,
    rules: Mapping[int, Mapping[int, int]],
    timeout: float = 30.0,
) -> float:
    """Status at the current generation, then Traefik serving each rule's weights."""
    start = time.monotonic()
    wait_route_accepted(api, namespace=namespace, name=name, timeout=timeout)
    for rule, weights in rules.items():
        left = max(1.0, timeout - (time.monotonic() - start))
        wait_traefik_serves(
            traefik, namespace=namespace, route=name, rule=rule, weights=weights, timeout=left
        )
    return time.monotonic() - start


# --- Prometheus -------------------------------------------------------------------------


def prometheus_targets(prometheus_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/targets?state=active", timeout=3) as resp:
        data: list[dict[str, Any]] = json.load(resp)["data"]["activeTargets"]
    return data


def wait_targets_up(prometheus_url: str, *, jobs: Sequence[str], timeout: float = 30.0) -> None:
    """Every active target of each job is up (and each job has one)."""

    def check() -> tuple[bool, str]:
        try:
            targets = prometheus_targets(prometheus_url)
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            return False, str(exc)
        seen = {j: [t["health"] for t in targets if t["labels"].get("job") == j] for j in jobs}
        return all(h and all(x == "up" for x in h) for h in seen.values()), str(seen)

    poll(check, timeout=timeout, what=f"Prometheus targets up for {list(jobs)}", interval=0.25)


def wait_scraped(
    prometheus_url: str, *, instance: str, namespace: str | None = None, timeout: float = 30.0
) -> None:
    """Wait until the target `instance` (host:port; of `namespace`, if given) is up."""
    sel = f'instance="{instance}"' + (f',namespace="{namespace}"' if namespace else "")
    query = urllib.parse.urlencode({"query": f"up{{{sel}}} == 1"})

    def check() -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(
                f"{prometheus_url}/api/v1/query?{query}", timeout=3
            ) as resp:
                result = json.load(resp)["data"]["result"]
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            return False, str(exc)
        return bool(result), str(result)

    poll(check, timeout=timeout, what=f"Prometheus scraping {instance}", interval=0.25)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.ready")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("route", help="wait for route status and Traefik's served weights")
    r.add_argument("--kubeconfig", required=True)
    r.add_argument("--traefik-api", required=True)
    r.add_argument("--namespace", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--rule", type=int, default=0)
    r.add_argument("--weights", required=True, help="comma-separated, in backendRef order")
    r.add_argument("--timeout", type=float, default=60)
    t = sub.add_parser("targets", help="wait for Prometheus targets to be up")
    t.add_argument("--prometheus", required=True)
    t.add_argument("--jobs", required=True)
    t.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "route":
            api = config.new_client_from_config(config_file=args.kubeconfig)  # type: ignore[no-untyped-call]
            weights = {i: int(w) for i, w in enumerate(args.weights.split(","))}
            took = wait_route_applied(
                api,
                HttpTraefikApi(base_url=args.traefik_api),
                namespace=args.namespace,
                name=args.name,
                rules={args.rule: weights},
                timeout=args.timeout,
            )
            where = f"{args.namespace}/{args.name} rule {args.rule}"
            print(f"{where} served at {args.weights} ({took:.2f} s)")
        else:
            wait_targets_up(args.prometheus, jobs=args.jobs.split(","), timeout=args.timeout)
    except NotReady as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
