#!/usr/bin/env python3
"""The operator at scale on the local stack: N Rollouts over a background of unrelated routes.

Runs against the stack of ``make cluster-up`` (``.local/cluster.env``; started with
CANARY_AUDIT=1 so the kube-apiserver writes an audit log). Creates, once, a background of
``--background`` unrelated HTTPRoutes (each with two Services and FQDN EndpointSlices, in
namespaces ``scale-bg-*``, attached to ``infra/prod-gateway``). Then for each N (and each
``--resync`` value) in fresh namespaces ``scale-<tag>-*``:

- N HTTPRoutes (stable 100 / canary 0) with their own two Services + EndpointSlices (the
  stack's stable backend process), and N Rollouts, steps ``[{weight: 10}, {weight: 100}]``
  (10 is a manual gate; no metrics);
- ONE ``canary run`` subprocess, cluster-wide, with its own identity (a ServiceAccount
  token, bound to cluster-admin), ``--traefik-api-url`` of the stack's Traefik;

and measures:

(a) seconds from operator start until all N are at their gate (phase Progressing,
    stepLabel 1/2, SplitVerified True);
(b) all N idle at the gate for ``--idle`` s: operator CPU % (utime+stime from /proc),
    RSS, and the operator's own kube-apiserver requests/s by verb and resource (audit log,
    its username only);
(c) promote all N at once (the annotations ``canary promote`` writes, written directly,
    16 threads): p50/p99 of command -> Traefik's API serving canary 100, the operator's own
    share (audit log: the command's patch -> the operator's httproute patch) and writes per
    Rollout (route patches, status patches; Events apart);
(d) Traefik alone: a direct patch of a background route's weights -> Traefik serves them
    (``--traefik-samples`` samples, median);
(e) SIGTERM -> operator process exit (SIGKILL after 30 s, reported as "> 30 s").

Every phase is bounded (``--phase-timeout``); what is not reached is reported as "x/N".
Between runs the run's objects are deleted (the stack has no namespace controller, so the
emptied namespaces stay behind, Terminating). Prints a markdown table and writes JSON under
benchmarks/results/. Figures are for this machine; nothing is asserted.

Usage: ``python benchmarks/scale.py --n 100 --n 300 [--background 1000] [--resync 5]``
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kubernetes import client, config  # noqa: E402

from canary.adapters.errors import TraefikApiError  # noqa: E402
from canary.adapters.traefik import HttpTraefikApi, parse_served_rule  # noqa: E402
from canary.core.phases import COMMAND_ANNOTATION, COMMAND_ID_ANNOTATION  # noqa: E402

GROUP, VERSION, PLURAL = "canary.dev", "v1alpha1", "rollouts"
GW = "gateway.networking.k8s.io"
GATEWAY = ("infra", "prod-gateway")
PORT = 8080
PER_NAMESPACE = 100
OPERATOR_SA = ("default", "canary-bench-scale")
CANARY = str(Path(sys.executable).parent / "canary")
CLK = os.sysconf("SC_CLK_TCK")
SIGTERM_GRACE = 30.0


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# --- pure helpers (tests/unit/test_bench_scale.py) ------------------------------------------


def pct(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 1]); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))  # ceil(q * n), at least 1
    return ordered[min(rank, len(ordered)) - 1]


def parse_audit(line: str) -> tuple[str, str, str, str, str, datetime] | None:
    """(user, verb, resource[/sub], namespace, name, received) of a completed request."""
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    if ev.get("stage") not in ("ResponseComplete", "Panic"):
        return None
    ref = ev.get("objectRef") or {}
    resource = str(ref.get("resource", ""))
    if ref.get("subresource"):
        resource += "/" + str(ref["subresource"])
    received = datetime.fromisoformat(str(ev["requestReceivedTimestamp"]).replace("Z", "+00:00"))
    user = str((ev.get("user") or {}).get("username", ""))
    return (
        user,
        str(ev.get("verb", "")),
        resource,
        str(ref.get("namespace", "")),
        str(ref.get("name", "")),
        received,
    )


def by_verb_resource(
    entries: Iterable[tuple[str, str, str, str, str, datetime]], user: str
) -> Counter[str]:
    """``"verb resource"`` -> requests of `user` (watches included: each is one request)."""
    return Counter(f"{e[1]} {e[2]}" for e in entries if e[0] == user)


_WRR = re.compile(r"^httproute-(?P<ns>scale-[a-z0-9-]+?)-(?P<route>(?:r|bg)\d+)-gw-.*-wrr@")


def served_weights(services: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[int, int]]:
    """(namespace, route) -> rule 0's served weights, for the benchmark's own routes.

    Groups Traefik's /api/http/services items by route once (the parse is per group), so a
    poll over 1,000 routes costs one pass, not 1,000 regex scans of every service.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for item in services:
        m = _WRR.match(str(item.get("name", "")))
        if m:
            groups.setdefault((m["ns"], m["route"]), []).append(item)
    out: dict[tuple[str, str], dict[int, int]] = {}
    for (ns, route), items in groups.items():
        try:
            rule = parse_served_rule(items, namespace=ns, route=route, rule=0)
        except TraefikApiError:
            continue
        uniform = rule.uniform()
        if uniform is not None:
            out[(ns, route)] = uniform
    return out


def at_gate(obj: Mapping[str, Any]) -> bool:
    status = obj.get("status") or {}
    verified = any(
        c.get("type") == "SplitVerified" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return status.get("phase") == "Progressing" and status.get("stepLabel") == "1/2" and verified


# --- the stack ------------------------------------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            k, _, v = line[7:].partition("=")
            out[k.strip()] = v.strip().strip("'\"")
    return out


class Audit:
    """Reads the audit log incrementally from a byte offset."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def mark(self) -> int:
        return self.path.stat().st_size

    def since(self, offset: int) -> list[tuple[str, str, str, str, str, datetime]]:
        out = []
        with self.path.open("rb") as fh:
            fh.seek(offset)
            for raw in fh:
                e = parse_audit(raw.decode("utf-8", "replace"))
                if e is not None:
                    out.append(e)
        return out


def operator_identity(api: client.ApiClient, env: Mapping[str, str], out: Path) -> tuple[str, str]:
    """A ServiceAccount (cluster-admin) and a kubeconfig with its token: (username, path)."""
    ns, sa = OPERATOR_SA
    core = client.CoreV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    try:
        core.create_namespaced_service_account(ns, {"metadata": {"name": sa}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    binding = {
        "metadata": {"name": sa},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
    }
    try:
        rbac.create_cluster_role_binding(binding)
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    tr = core.create_namespaced_service_account_token(
        sa, ns, {"spec": {"expirationSeconds": 4 * 3600}}
    )
    ca = base64.b64encode(Path(env["CA_FILE"]).read_bytes()).decode()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": env["APISERVER_URL"], "certificate-authority-data": ca},
            }
        ],
        "users": [{"name": sa, "user": {"token": tr.status.token}}],
        "contexts": [{"name": "op", "context": {"cluster": "local", "user": sa}}],
        "current-context": "op",
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "operator.kubeconfig"
    path.touch(mode=0o600)
    path.write_text(json.dumps(kubeconfig))
    return f"system:serviceaccount:{ns}:{sa}", str(path)


# --- objects --------------------------------------------------------------------------------


def _parallel(fn: Callable[..., Any], items: list[tuple[Any, ...]], workers: int = 16) -> None:
    with cf.ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(fn, *it) for it in items]:
            f.result()


def _namespace(api: client.ApiClient, name: str) -> None:
    body: Any = {"metadata": {"name": name, "labels": {"gateway-access": "true"}}}
    try:
        client.CoreV1Api(api).create_namespace(body=body)
    except client.ApiException as exc:
        if exc.status != 409:
            raise


def _backend(api: client.ApiClient, ns: str, name: str, host: str, port: int) -> None:
    svc: Any = {
        "metadata": {"name": name, "namespace": ns},
        # headless: the stack's service CIDR is a /24, and nothing here needs a cluster IP
        "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": PORT, "protocol": "TCP"}]},
    }
    eps: Any = {
        "metadata": {"name": f"{name}-local", "namespace": ns,
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "FQDN",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
    }  # fmt: skip
    for create, body in (
        (client.CoreV1Api(api).create_namespaced_service, svc),
        (client.DiscoveryV1Api(api).create_namespaced_endpoint_slice, eps),
    ):
        try:
            create(ns, body=body)
        except client.ApiException as exc:
            if exc.status != 409:  # a rerun after a cut one
                raise  # fmt: skip


def _route(api: client.ApiClient, ns: str, name: str) -> None:
    body = {
        "apiVersion": f"{GW}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "parentRefs": [{"name": GATEWAY[1], "namespace": GATEWAY[0]}],
            "hostnames": [f"{name}.{ns}.scale.test"],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": f"{name}-v1", "port": PORT, "weight": 100},
                                {"name": f"{name}-v2", "port": PORT, "weight": 0}],
            }],
        },
    }  # fmt: skip
    client.CustomObjectsApi(api).create_namespaced_custom_object(GW, "v1", ns, "httproutes", body)


def _rollout(api: client.ApiClient, ns: str, name: str) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "routes": [{"kind": "HTTPRoute", "name": name}],
            "stable": {"name": f"{name}-v1", "port": PORT},
            "canary": {"name": f"{name}-v2", "port": PORT},
            "steps": [{"weight": 10}, {"weight": 100}],
            "progressDeadline": "60m",
        },
    }
    client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)


def create_routes(
    api: client.ApiClient, env: Mapping[str, str], items: list[tuple[str, str]]
) -> float:
    """Namespaces, Services, EndpointSlices and HTTPRoutes for (namespace, name); seconds."""
    t0 = time.monotonic()
    host, port = env["BACKEND_HOST"], int(env.get("STABLE_PORT", "0"))
    for ns in sorted({ns for ns, _ in items}):
        _namespace(api, ns)
    _parallel(lambda ns, name: _backend(api, ns, f"{name}-v1", host, port), items)
    _parallel(lambda ns, name: _backend(api, ns, f"{name}-v2", host, port), items)
    _parallel(lambda ns, name: _route(api, ns, name), items)
    return time.monotonic() - t0


def ensure_background(api: client.ApiClient, env: Mapping[str, str], count: int) -> None:
    items = [(f"scale-bg-{i // PER_NAMESPACE}", f"bg{i}") for i in range(count)]
    existing: set[tuple[str, str]] = set()
    custom = client.CustomObjectsApi(api)
    for ns in sorted({ns for ns, _ in items}):
        try:
            res: Any = custom.list_namespaced_custom_object(GW, "v1", ns, "httproutes")
            existing |= {(ns, r["metadata"]["name"]) for r in res["items"]}
        except client.ApiException:
            pass
    todo = [it for it in items if it not in existing]
    if todo:
        log(f"background: creating {len(todo)} routes (+2 Services, 2 EndpointSlices each)")
        log(f"background created in {create_routes(api, env, todo):.0f} s")


def delete_run(api: client.ApiClient, namespaces: list[str]) -> None:
    """Delete a run's objects (the operator is stopped: drop the Rollouts' finalizers first)."""
    custom = client.CustomObjectsApi(api)
    core, disc = client.CoreV1Api(api), client.DiscoveryV1Api(api)
    for ns in namespaces:
        res: Any = custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
        for r in res["items"]:
            if r["metadata"].get("finalizers"):
                custom.patch_namespaced_custom_object(
                    GROUP, VERSION, ns, PLURAL, r["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                )  # fmt: skip
        custom.delete_collection_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
        custom.delete_collection_namespaced_custom_object(GW, "v1", ns, "httproutes")
        disc.delete_collection_namespaced_endpoint_slice(ns)
        for s in core.list_namespaced_service(ns).items:
            core.delete_namespaced_service(s.metadata.name, ns)
        core.delete_namespace(ns)


# --- measuring ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def gated(api: client.ApiClient, namespaces: list[str]) -> set[tuple[str, str]]:
    """(namespace, name) of the Rollouts at their gate."""
    custom = client.CustomObjectsApi(api)
    out: set[tuple[str, str]] = set()
    for ns in namespaces:
        res: Any = custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
        out |= {(ns, r["metadata"]["name"]) for r in res["items"] if at_gate(r)}
    return out


def served(traefik: HttpTraefikApi, search: str) -> dict[tuple[str, str], dict[int, int]]:
    try:
        return served_weights(traefik.services(search=search))
    except TraefikApiError:
        return {}


def writes(entries: list[Any], user: str) -> Counter[str]:
    return Counter(
        f"{e[1]} {e[2]}"
        for e in entries
        if e[0] == user and e[1] in ("create", "update", "patch", "delete")
    )


def run_one(args: argparse.Namespace, n: int, resync: float | None, tag: str) -> dict[str, Any]:
    env = read_env(args.env)
    config.load_kube_config(env["KUBECONFIG"])
    cfg = client.Configuration.get_default_copy()
    cfg.connection_pool_maxsize = 32
    api = client.ApiClient(cfg)
    custom = client.CustomObjectsApi(api)
    audit = Audit(env["AUDIT_LOG"])
    traefik = HttpTraefikApi(base_url=env["TRAEFIK_API_URL"], timeout=30)
    work = REPO / ".local" / "bench-scale"
    user, kubeconfig = operator_identity(api, env, work)
    items = [(f"scale-{tag}-{i // PER_NAMESPACE}", f"r{i}") for i in range(n)]
    namespaces = sorted({ns for ns, _ in items})
    result: dict[str, Any] = {
        "n": n,
        "background": args.background,
        "resync": "default (300 s)" if resync is None else f"{resync:g} s",
        "operator_user": user,
    }
    t_setup = time.monotonic()
    log(f"[{tag}] creating {n} routes, Services, EndpointSlices")
    create_routes(api, env, items)
    _parallel(lambda ns, name: _rollout(api, ns, name), items)
    result["setup_s"] = time.monotonic() - t_setup
    log(f"[{tag}] created in {result['setup_s']:.0f} s; starting the operator")
    op_env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE")}
    op_env["KUBECONFIG"] = kubeconfig
    cmd = [CANARY, "run", "--kubeconfig", kubeconfig, "--identity", f"bench-{tag}",
           "--lease-namespace", "default", "--lease-name", f"bench-scale-{tag}",
           "--traefik-api-url", env["TRAEFIK_API_URL"], "--prometheus-url", env["PROMETHEUS_URL"],
           "--health-host", "127.0.0.1", "--health-port", str(args.health_port),
           "--metrics-port", "0"]  # fmt: skip
    if resync is not None:
        cmd += ["--resync-interval", str(resync)]
    result["command"] = " ".join(cmd[1:])
    logpath = REPO / ".local" / "logs" / f"bench-scale-{tag}.log"
    t_run = time.monotonic()
    with logpath.open("ab") as logfile:
        off_start = audit.mark()
        start = time.monotonic()
        op = subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT, env=op_env)
        try:
            _measure(args, result, op, start, api, custom, audit, traefik, user, tag, items,
                     namespaces, off_start)  # fmt: skip
        finally:
            t0 = time.monotonic()
            op.send_signal(signal.SIGTERM)
            try:
                op.wait(timeout=SIGTERM_GRACE)
                result["sigterm_exit_s"] = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                op.kill()
                op.wait()
                result["sigterm_exit_s"] = None
            log(f"[{tag}] (e) SIGTERM -> exit {result['sigterm_exit_s']}")
            result["run_s"] = time.monotonic() - t_run
            t_clean = time.monotonic()
            delete_run(api, namespaces)
            result["cleanup_s"] = time.monotonic() - t_clean
    return result


def _measure(
    args: argparse.Namespace,
    result: dict[str, Any],
    op: subprocess.Popen[bytes],
    start: float,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    audit: Audit,
    traefik: HttpTraefikApi,
    user: str,
    tag: str,
    items: list[tuple[str, str]],
    namespaces: list[str],
    off_start: int,
) -> None:
    n = len(items)
    # (a) all N at their gate
    count = 0
    while time.monotonic() - start < args.phase_timeout:
        count = len(gated(api, namespaces))
        if count == n:
            break
        if op.poll() is not None:
            raise SystemExit(f"operator exited: rc={op.returncode}")
        time.sleep(1.0)
    result["at_gate"] = count
    result["all_at_gate_s"] = time.monotonic() - start if count == n else None
    gate_writes = writes(audit.since(off_start), user)
    result["gate_writes_per_rollout"] = {k: v / n for k, v in sorted(gate_writes.items())}
    log(f"[{tag}] (a) {count}/{n} at the gate after {time.monotonic() - start:.0f} s")

    # (b) idle at the gate
    time.sleep(args.settle)
    off, cpu0, t0 = audit.mark(), cpu_seconds(op.pid), time.monotonic()
    time.sleep(args.idle)
    elapsed = time.monotonic() - t0
    result["idle_cpu_pct"] = 100 * (cpu_seconds(op.pid) - cpu0) / elapsed
    result["rss_mib"] = rss_mib(op.pid)
    idle = by_verb_resource(audit.since(off), user)
    result["idle_rps"] = {k: round(v / elapsed, 3) for k, v in idle.most_common()}
    result["idle_rps_total"] = sum(idle.values()) / elapsed
    log(f"[{tag}] (b) cpu {result['idle_cpu_pct']:.1f} % rss {result['rss_mib']:.0f} MiB "
        f"{result['idle_rps_total']:.1f} req/s")  # fmt: skip

    # (c) promote all N at once
    at_gate_now = gated(api, namespaces)
    result["promoted_at_gate"] = len(at_gate_now)
    off = audit.mark()
    commanded: dict[tuple[str, str], float] = {}

    def promote(ns: str, name: str) -> None:
        body = {
            "metadata": {
                "annotations": {
                    COMMAND_ANNOTATION: "promote",
                    COMMAND_ID_ANNOTATION: f"bench-{tag}-{name}",
                }
            }
        }
        custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, body)
        commanded[(ns, name)] = time.time()  # fmt: skip

    _parallel(promote, items, workers=16)
    done: dict[tuple[str, str], float] = {}
    t_cmd = time.monotonic()
    while len(done) < n and time.monotonic() - t_cmd < args.phase_timeout:
        now = time.time()
        for key, weights in served(traefik, f"httproute-scale-{tag}-").items():
            if key not in done and weights == {1: 100}:
                done[key] = now
        time.sleep(0.2)
    time.sleep(args.settle)  # let the Rollouts' final status writes land
    entries = audit.since(off)
    cmd_at = {(e[3], e[4]): e[5] for e in entries if e[0] != user and e[1] == "patch"
              and e[2] == "rollouts" and (e[3], e[4]) in commanded}  # fmt: skip
    route_at: dict[tuple[str, str], datetime] = {}
    for e in entries:
        if e[0] == user and e[1] in ("patch", "update") and e[2] == "httproutes":
            route_at.setdefault((e[3], e[4]), e[5])
    # Only Rollouts at their gate when commanded: for the others the first route write
    # after the command may be step 1's (the audit log at Metadata level has no bodies).
    share = [
        (route_at[k] - cmd_at[k]).total_seconds()
        for k in cmd_at
        if k in route_at and k in at_gate_now
    ]
    to_traefik = [done[k] - commanded[k] for k in done]
    result["promote_served"] = len(done)
    result["cmd_to_traefik_p50"] = pct(to_traefik, 0.5)
    result["cmd_to_traefik_p99"] = pct(to_traefik, 0.99)
    result["cmd_to_route_p50"] = pct(share, 0.5)
    result["cmd_to_route_p99"] = pct(share, 0.99)
    w = writes(entries, user)
    result["promote_writes"] = dict(w)
    result["route_writes_per_rollout"] = (
        sum(v for k, v in w.items() if k.endswith(" httproutes")) / n
    )
    result["status_writes_per_rollout"] = (
        w["patch rollouts/status"] / n + w["update rollouts/status"] / n
    )
    result["event_writes_per_rollout"] = sum(v for k, v in w.items() if k.endswith(" events")) / n
    log(f"[{tag}] (c) served {len(done)}/{n}; cmd->Traefik p50 {result['cmd_to_traefik_p50']} "
        f"p99 {result['cmd_to_traefik_p99']}; writes {dict(w)}")  # fmt: skip

    # (d) Traefik alone: a background route, patched directly
    ns, name = "scale-bg-0", "bg0"
    samples: list[float] = []
    for i in range(args.traefik_samples):
        weight = 5 + i
        rules = [{
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": f"{name}-v1", "port": PORT, "weight": 100},
                            {"name": f"{name}-v2", "port": PORT, "weight": weight}],
        }]  # fmt: skip
        patch = {"spec": {"rules": rules}}  # a merge patch replaces the list whole
        custom.patch_namespaced_custom_object(GW, "v1", ns, "httproutes", name, patch)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            try:
                rule = traefik.served_rule(namespace=ns, route=name, rule=0)
                if rule.serves({0: 100, 1: weight}):
                    samples.append(time.monotonic() - t0)
                    break
            except TraefikApiError:
                pass
            time.sleep(0.02)
    result["traefik_samples"] = samples
    result["traefik_alone_median"] = statistics.median(samples) if samples else None
    log(f"[{tag}] (d) Traefik alone {samples}")


def _f(v: Any, fmt: str = "{:.1f}") -> str:
    return "—" if v is None else fmt.format(v)


def _pair(r: Mapping[str, Any], a: str, b: str) -> str:
    return f"{_f(r.get(a), '{:.2f}')} / {_f(r.get(b), '{:.2f}')}"


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| N | resync | (a) all at gate | (b) idle CPU | RSS | idle req/s (operator) | "
        "(c) cmd → Traefik p50 / p99 | cmd → route written p50 / p99 | route / status "
        "writes per Rollout (Events) | (d) Traefik alone | (e) SIGTERM → exit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        n = r["n"]
        if r.get("all_at_gate_s") is not None:
            gate = f"{r['all_at_gate_s']:.1f} s"
        else:
            gate = f"not reached, {r.get('at_gate')}/{n} after {r.get('phase_timeout', 300):g} s"
        promote = _pair(r, "cmd_to_traefik_p50", "cmd_to_traefik_p99") + " s"
        if r.get("promote_served") is not None and r["promote_served"] < n:
            promote += f" ({r['promote_served']}/{n} served)"
        own = _pair(r, "cmd_to_route_p50", "cmd_to_route_p99") + " s"
        if r.get("promoted_at_gate") is not None and r["promoted_at_gate"] < n:
            own += f" (of {r['promoted_at_gate']} at the gate)"
        writes_ = _pair(r, "route_writes_per_rollout", "status_writes_per_rollout")
        events = _f(r.get("event_writes_per_rollout"), "{:.2f}")
        sig = "> 30 s" if r.get("sigterm_exit_s") is None else f"{r['sigterm_exit_s']:.1f} s"
        cells = [
            str(n),
            r["resync"],
            gate,
            f"{_f(r.get('idle_cpu_pct'))} %",
            f"{_f(r.get('rss_mib'), '{:.0f}')} MiB",
            _f(r.get("idle_rps_total")),
            promote,
            own,
            f"{writes_} ({events})",
            f"{_f(r.get('traefik_alone_median'), '{:.2f}')} s",
            sig,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--n", type=int, action="append", help="Rollouts (repeatable; default 100, 300, 1000)"
    )
    p.add_argument("--background", type=int, default=1000)
    p.add_argument(
        "--resync",
        action="append",
        help="the operator's --resync-interval in s, or 'default' (repeatable; "
        "default: its own default)",
    )
    p.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    p.add_argument("--settle", type=float, default=5.0)
    p.add_argument("--phase-timeout", type=float, default=300.0)
    p.add_argument("--traefik-samples", type=int, default=5)
    p.add_argument(
        "--health-port", type=int, default=int(os.environ.get("BENCH_HEALTH_PORT", "0")) or 18099
    )
    p.add_argument("--env", type=Path, default=REPO / ".local" / "cluster.env")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()  # fmt: skip
    env = read_env(args.env)
    if not env.get("AUDIT_LOG"):
        raise SystemExit(
            "no AUDIT_LOG in cluster.env: make cluster-down; CANARY_AUDIT=1 make cluster-up"
        )
    config.load_kube_config(env["KUBECONFIG"])
    ensure_background(client.ApiClient(), env, args.background)
    results: list[dict[str, Any]] = []
    out = (
        args.json
        or REPO / "benchmarks" / "results" / f"scale-{time.strftime('%Y%m%dT%H%M%S')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    resyncs = [None if r == "default" else float(r) for r in args.resync or ["default"]]
    for resync in resyncs:
        for n in args.n or [100, 300, 1000]:
            tag = f"{n}-{'d' if resync is None else int(resync)}-{int(time.time()) % 100000}"
            r = run_one(args, n, resync, tag)
            r["phase_timeout"] = args.phase_timeout
            r["load_average"] = os.getloadavg()
            results.append(r)
            print(json.dumps(r, default=str), flush=True)
            out.write_text(json.dumps(results, indent=2, default=str))
    print(
        f"\n{os.cpu_count()} cores · background {args.background} routes · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · load {os.getloadavg()}\n"
    )
    print(table(results))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
