"""Helpers for hack/demo.sh (`make demo`): deploy the faulty app, watch a Rollout, explain.

    python hack/demo_timeline.py free-port
    python hack/demo_timeline.py deploy --namespace NS --out FILE     # JSON: url, headers, …
    python hack/demo_timeline.py watch --namespace NS --name N --want Succeeded \
        --since EPOCH --timeout 120 --result FILE
    python hack/demo_timeline.py explain --namespace NS --name N
    python hack/demo_timeline.py summary FILE...

`watch` prints the `kubectl get rollouts.canary.dev -o wide` row whenever the rollout's
phase, step, weights or message change, and a timeline line (time since --since, phase,
step, weight, effective, observed, the last measurement of each metric) whenever that or a
new analysis check changes. It exits 0 when the rollout reaches --want, 1 when it ends in
another final phase, 2 on timeout. Everything talks to the local stack of
`.local/cluster.env` (KUBECONFIG and friends in the environment).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `stack/` is a repo directory, not an installed package
    sys.path.insert(0, str(REPO))

FINAL = {"Succeeded", "RolledBack", "Aborted", "Failed"}
KUBECTL = os.environ.get(
    "CANARY_KUBECTL",
    str(Path(os.environ.get("CANARY_CACHE", "/var/cache/canary-e2e")) / "venv" / "bin" / "kubectl"),
)


def kubectl(*args: str) -> str:
    proc = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def api_client() -> Any:
    from kubernetes import config

    return config.new_client_from_config(config_file=os.environ["KUBECONFIG"])  # type: ignore[no-untyped-call]


def get_rollout(api: Any, namespace: str, name: str) -> dict[str, Any] | None:
    from kubernetes import client

    obj: Any
    try:
        obj = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "canary.dev", "v1alpha1", namespace, "rollouts", name
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    found: dict[str, Any] = dict(obj)
    return found


def pct(value: Any) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{float(value):.1f}".removesuffix(".0") + "%"


def num(value: Any) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{float(value):.3g}"


def last_measurements(status: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for metric in status.get("analysis") or []:
        ms = metric.get("measurements") or []
        if ms:
            out.append({"name": metric.get("name"), **ms[-1]})
    return out


def measurement_text(m: dict[str, Any]) -> str:
    value = num(m.get("value")) if m.get("value") is not None else "no data"
    return f"{m['name']} {value} {m.get('verdict', '?')}"


# -- free-port ------------------------------------------------------------------------------


def cmd_free_port(_: argparse.Namespace) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
    return 0


# -- deploy -----------------------------------------------------------------------------------


def cmd_deploy(args: argparse.Namespace) -> int:
    from stack.scenario import ClusterEnv, deploy_app

    env = ClusterEnv.from_mapping(os.environ)
    app = deploy_app(api_client(), env, namespace=args.namespace, weights=(90, 10))
    info = {
        "namespace": app.namespace,
        "route": app.route,
        "stable": app.stable,
        "canary": app.canary,
        "url": app.url,
        "headers": app.headers,
        "canary_control_url": app.control_url(app.canary),
        "stable_control_url": app.control_url(app.stable),
        "backends_pid": app.backends.proc.pid,
        "backends_pid_file": str(app.backends.pid_file),
        "targets_file": str(app.targets_file),
    }
    # The backends keep running (own session, pid file) until demo.sh stops them by PID.
    Path(args.out).write_text(json.dumps(info, indent=1))
    print(
        f"deployed {app.namespace}/{app.route} (host {app.hostname}): {app.stable} 90 / "
        f"{app.canary} 10, own backends pid {app.backends.proc.pid} "
        f"(ports {', '.join(f'{k}={v}' for k, v in app.backends.ports.items())})"
    )
    return 0


# -- watch ------------------------------------------------------------------------------------


def cmd_watch(args: argparse.Namespace) -> int:
    api = api_client()
    since = args.since
    deadline = time.monotonic() + args.timeout
    row_key: tuple[Any, ...] | None = None
    line_key: tuple[Any, ...] | None = None
    header = True
    weights: list[int] = []
    phase = "-"
    status: dict[str, Any] = {}
    rc = 2
    while time.monotonic() < deadline:
        obj = get_rollout(api, args.namespace, args.name)
        status = (obj or {}).get("status") or {}
        phase = status.get("phase") or "-"
        key = (
            phase,
            status.get("stepLabel"),
            status.get("canaryWeight"),
            status.get("effectiveWeight"),
            status.get("message"),
        )
        if obj is not None and key != row_key:
            row_key = key
            # with the header every time, so the columns keep its widths; printed once
            out = kubectl(
                "-n", args.namespace, "get", "rollouts.canary.dev", args.name, "-o", "wide"
            )
            lines = out.rstrip("\n").splitlines()
            for line in lines if header else lines[1:]:
                print(f"  {line}")
            header = False
        measurements = last_measurements(status)
        lkey = (*key[:4], status.get("lastAnalysisAt"), status.get("failures"))
        if obj is not None and lkey != line_key:
            line_key = lkey
            elapsed = time.time() - since
            checks = "; ".join(measurement_text(m) for m in measurements) or "no check yet"
            print(
                f"  [+{elapsed:5.1f}s] {phase:<12} step {status.get('stepLabel') or '-':<4} "
                f"weight {pct(status.get('canaryWeight')):>4}  "
                f"effective {pct(status.get('effectiveWeight')):>4}  "
                f"observed {pct(status.get('observedWeight')):>5}  "
                f"failures {status.get('failures', 0)}  | {checks}",
                flush=True,
            )
        weight = status.get("canaryWeight")
        if isinstance(weight, int) and (not weights or weights[-1] != weight):
            weights.append(weight)
        if phase in FINAL:
            rc = 0 if phase == args.want else 1
            break
        time.sleep(0.5)
    elapsed = time.time() - since
    if rc == 2:
        print(f"  timed out after {args.timeout:.0f} s waiting for {args.want} (phase {phase})")
    uid = ((obj or {}).get("metadata") or {}).get("uid")
    result = {
        "second_writer": bool(uid) and second_writer(args.namespace, str(uid)),
        "namespace": args.namespace,
        "name": args.name,
        "want": args.want,
        "phase": phase,
        "ok": rc == 0,
        "seconds": round(elapsed, 1),
        "weights": weights,
        "step": status.get("stepLabel"),
        "message": status.get("message"),
        "failing": [m for m in last_measurements(status) if m.get("verdict") == "fail"],
    }
    if args.result:
        Path(args.result).write_text(json.dumps(result, indent=1))
    return rc


def second_writer(namespace: str, uid: str) -> bool:
    """Whether another operator process acted on this Rollout too: one process folds a
    repeated Event into one object (count + 1), so the same reason and message on two
    Event objects means two emitters."""
    out = kubectl(
        "-n", namespace, "get", "events", "--field-selector", f"involvedObject.uid={uid}",
        "-o", "json",
    )  # fmt: skip
    seen = [
        (e.get("reason"), e.get("message"))
        for e in json.loads(out)["items"]
        if e.get("reportingComponent") == "canary"
    ]
    return len(seen) != len(set(seen))


# -- explain ----------------------------------------------------------------------------------


def cmd_explain(args: argparse.Namespace) -> int:
    api = api_client()
    obj = get_rollout(api, args.namespace, args.name) or {}
    status = obj.get("status") or {}
    failing = []
    for metric in status.get("analysis") or []:
        for m in metric.get("measurements") or []:
            if m.get("verdict") == "fail":
                failing.append({"name": metric.get("name"), **m})
    if failing:
        m = failing[-1]
        print(f"failing measurement ({m['name']}, {m.get('time')}):")
        print(
            f"  canary {num(m.get('value'))} vs bound {m.get('bound')} "
            f"(stable {num(m.get('stableValue'))}, {m.get('samples')} canary requests): "
            f"{m.get('message')}"
        )
        print(f"  query: {m.get('query')}")
    else:
        print("no failing measurement recorded")
    print("Warning events:")
    out = kubectl(
        "-n", args.namespace, "get", "events",
        "--field-selector", f"type=Warning,involvedObject.name={args.name}",
        "--sort-by", ".lastTimestamp",
        "-o", "custom-columns=LAST:.lastTimestamp,COUNT:.count,REASON:.reason,MESSAGE:.message",
    )  # fmt: skip
    for line in out.rstrip("\n").splitlines():
        print(f"  {line}")
    route = json.loads(kubectl("-n", args.namespace, "get", "httproute", args.route, "-o", "json"))
    refs = route["spec"]["rules"][0]["backendRefs"]
    print(
        f"HTTPRoute {args.namespace}/{args.route} rule 0 now: "
        + " / ".join(f"{r['name']} {r.get('weight', 1)}" for r in refs)
    )
    return 0


# -- summary ----------------------------------------------------------------------------------


def cmd_summary(args: argparse.Namespace) -> int:
    ok = True
    for path in args.results:
        p = Path(path)
        if not p.exists():
            print(f"  {p.stem:<8} did not run")
            ok = False
            continue
        r = json.loads(p.read_text())
        walk = " → ".join(str(w) for w in r["weights"]) or "-"
        mark = "ok  " if r["ok"] else "FAIL"
        line = (
            f"  {mark} {p.stem:<8} {r['namespace']}/{r['name']}: {r['phase']} "
            f"(wanted {r['want']}) after {r['seconds']:.0f} s; canary weight {walk}"
        )
        if r["failing"]:
            line += "; failed: " + ", ".join(
                f"{m['name']} {num(m.get('value'))} ({m.get('bound')})" for m in r["failing"]
            )
        print(line)
        if r.get("second_writer"):
            print(
                f"       warning: another canary operator acted in {r['namespace']} too "
                "(duplicate Events); stop it for a clean demo"
            )
        ok = ok and r["ok"]
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hack/demo_timeline.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port").set_defaults(fn=cmd_free_port)
    d = sub.add_parser("deploy")
    d.add_argument("--namespace", required=True)
    d.add_argument("--out", required=True)
    d.set_defaults(fn=cmd_deploy)
    w = sub.add_parser("watch")
    w.add_argument("--namespace", required=True)
    w.add_argument("--name", required=True)
    w.add_argument("--want", required=True, choices=sorted(FINAL))
    w.add_argument("--since", type=float, default=time.time())
    w.add_argument("--timeout", type=float, default=120)
    w.add_argument("--result")
    w.set_defaults(fn=cmd_watch)
    e = sub.add_parser("explain")
    e.add_argument("--namespace", required=True)
    e.add_argument("--name", required=True)
    e.add_argument("--route", default="api-route")
    e.set_defaults(fn=cmd_explain)
    s = sub.add_parser("summary")
    s.add_argument("results", nargs="+")
    s.set_defaults(fn=cmd_summary)
    args = parser.parse_args(argv)
    rc: int = args.fn(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
