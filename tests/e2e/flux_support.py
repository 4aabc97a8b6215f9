"""A real Flux kustomize-controller for e2e tests, fed without source-controller.

- ``flux_dir()``: the controller binary and CRDs built by hack/build-flux.sh (cached).
- ``ArtifactServer``: serves a tar.gz of "the Git repository" on loopback and writes a
  GitRepository whose ``status.artifact`` (url, digest ``sha256:<hex>``, revision
  ``main@sha1:<hex>``) points at it — what source-controller would publish.
  kustomize-controller downloads the URL, verifies the digest (fluxcd/pkg/http/fetch),
  untars it and builds the Kustomization's path.
- ``FluxProcess``: one kustomize-controller restricted to the test's namespace
  (``RUNTIME_NAMESPACE`` + ``--watch-all-namespaces=false``), no leader election, its
  metrics/health on free loopback ports; stopped by its PID.
- ``request_reconcile``: Flux's ``reconcile.fluxcd.io/requestedAt`` annotation, waited for
  in ``status.lastHandledReconcileAt`` — a gate that says "Flux has looked again" (no sleep).
- ``ReadyHistory``: every Ready status of the Kustomization seen by a poll, for a whole
  rollout (between the handshakes above).
- ``set_ignore``: the recipe (``.spec.ignore``) added to a running Kustomization.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from operator_support import REPO, free_port, wait_until

SOURCE = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")
KUSTOMIZE = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
VERSION = os.environ.get("FLUX_KUSTOMIZE_VERSION", "v1.9.6")


def flux_dir() -> Path:
    """hack/build-flux.sh's output directory (builds on a cold cache; prints the path)."""
    out = subprocess.run(
        ["nice", "-n", "10", "bash", str(REPO / "hack" / "build-flux.sh")],
        capture_output=True, text=True, check=False, timeout=3600,
        env={**os.environ, "FLUX_KUSTOMIZE_VERSION": VERSION},
    )  # fmt: skip
    if out.returncode != 0:
        raise AssertionError(f"hack/build-flux.sh failed: {out.stderr[-3000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def tarball(files: Mapping[str, str]) -> bytes:
    """A deterministic tar.gz of ``files`` (path → text)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        body = self.server.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet
        return


class _Server(ThreadingHTTPServer):
    files: dict[str, bytes]


@dataclass
class ArtifactServer:
    """Loopback HTTP server + the GitRepository that points kustomize-controller at it."""

    api: client.ApiClient
    namespace: str
    name: str = "app"
    revisions: list[str] = field(default_factory=list)
    _server: _Server | None = None

    def start(self) -> ArtifactServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.files = {}
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        body = {
            "apiVersion": f"{SOURCE[0]}/{SOURCE[1]}",
            "kind": "GitRepository",
            "metadata": {"name": self.name, "namespace": self.namespace},
            # never fetched: no source-controller runs; the status below is the artifact
            "spec": {"url": "https://git.invalid/app.git", "interval": "1h",
                     "ref": {"branch": "main"}},
        }  # fmt: skip
        client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            *SOURCE[:2], self.namespace, SOURCE[2], body
        )
        return self

    def publish(self, files: Mapping[str, str]) -> str:
        """Serve a new "commit" and point the GitRepository's artifact at it; its revision."""
        assert self._server is not None
        data = tarball(files)
        sha1 = hashlib.sha1(data).hexdigest()  # a Git-like revision id
        path = f"/gitrepository/{self.namespace}/{self.name}/{sha1}.tar.gz"
        self._server.files[path] = data
        revision = f"main@sha1:{sha1}"
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {
            "status": {
                "artifact": {
                    "path": path.lstrip("/"),
                    "url": f"http://127.0.0.1:{self._server.server_address[1]}{path}",
                    "revision": revision,
                    "digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
                    "lastUpdateTime": now,
                    "size": len(data),
                },
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Succeeded",
                     "message": f"stored artifact for revision '{revision}'",
                     "lastTransitionTime": now, "observedGeneration": 1},
                ],
                "observedGeneration": 1,
            }
        }  # fmt: skip
        client.CustomObjectsApi(self.api).patch_namespaced_custom_object_status(
            *SOURCE[:2], self.namespace, SOURCE[2], self.name, status
        )
        self.revisions.append(revision)
        return revision

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class FluxProcess:
    """One real kustomize-controller watching only ``namespace``; stopped by its PID."""

    binary: Path
    namespace: str
    kubeconfig: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FluxProcess:
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "RUNTIME_NAMESPACE": self.namespace}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        env.pop("KUBERNETES_SERVICE_PORT", None)
        args = [
            str(self.binary),
            "--watch-all-namespaces=false",
            "--enable-leader-election=false",
            f"--metrics-addr=127.0.0.1:{free_port()}",
            f"--health-addr=127.0.0.1:{free_port()}",
            "--concurrent=1",
            "--requeue-dependency=2s",
            "--no-remote-bases=true",
            "--log-level=info",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def install_crds(kubectl: Any, crds: Path) -> None:
    """Server-side apply the Kustomization and GitRepository CRDs; wait until Established."""
    for f in sorted(crds.glob("*.yaml")):
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(f))
    for name in ("kustomizations.kustomize.toolkit.fluxcd.io",
                 "gitrepositories.source.toolkit.fluxcd.io"):  # fmt: skip
        kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")


def kustomization(
    api: client.ApiClient,
    namespace: str,
    *,
    ignore: list[dict[str, Any]] | None = None,
    interval: str = "2s",
) -> None:
    spec: dict[str, Any] = {
        "interval": interval,
        "retryInterval": interval,
        "path": "./",
        "prune": False,
        "targetNamespace": namespace,
        "sourceRef": {"kind": "GitRepository", "name": "app"},
        "timeout": "30s",
    }
    if ignore:
        spec["ignore"] = ignore
    body = {
        "apiVersion": f"{KUSTOMIZE[0]}/{KUSTOMIZE[1]}",
        "kind": "Kustomization",
        "metadata": {"name": "app", "namespace": namespace},
        "spec": spec,
    }
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        *KUSTOMIZE[:2], namespace, KUSTOMIZE[2], body
    )


def read_kustomization(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(
        *KUSTOMIZE[:2], namespace, KUSTOMIZE[2], "app"
    )
    return dict(obj)


def ready(obj: Mapping[str, Any]) -> dict[str, Any]:
    conds = (obj.get("status") or {}).get("conditions") or []
    return next((dict(c) for c in conds if c.get("type") == "Ready"), {})


def wait_applied(api: client.ApiClient, namespace: str, revision: str, flux: FluxProcess) -> None:
    """Until the Kustomization is Ready with ``revision`` applied."""

    def check() -> bool:
        if not flux.alive():
            raise AssertionError(f"kustomize-controller exited:\n{flux.log()[-3000:]}")
        obj = read_kustomization(api, namespace)
        applied = (obj.get("status") or {}).get("lastAppliedRevision")
        return ready(obj).get("status") == "True" and applied == revision

    wait_until(f"Kustomization applied {revision}", check, timeout=90)


def request_reconcile(api: client.ApiClient, namespace: str, flux: FluxProcess) -> dict[str, Any]:
    """Ask Flux to reconcile now and wait until it did (lastHandledReconcileAt); the object."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch = {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": stamp}}}
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        *KUSTOMIZE[:2], namespace, KUSTOMIZE[2], "app", patch
    )

    def handled() -> dict[str, Any] | None:
        if not flux.alive():
            raise AssertionError(f"kustomize-controller exited:\n{flux.log()[-3000:]}")
        obj = read_kustomization(api, namespace)
        status = obj.get("status") or {}
        if status.get("lastHandledReconcileAt") != stamp:
            return None
        if ready(obj).get("reason") == "Progressing":
            return None
        return obj

    found: dict[str, Any] = wait_until("Flux handled the reconcile request", handled, timeout=60)
    return found


def set_ignore(api: client.ApiClient, namespace: str, ignore: list[dict[str, Any]]) -> None:
    """Add ``.spec.ignore`` to the Kustomization (a new generation: Flux reconciles it)."""
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        *KUSTOMIZE[:2], namespace, KUSTOMIZE[2], "app", {"spec": {"ignore": ignore}}
    )


class ReadyHistory:
    """Polls the Kustomization every ``interval`` s in a thread; ``seen`` holds each change
    of its Ready condition as (time.monotonic(), status, reason, message)."""

    def __init__(self, api: client.ApiClient, namespace: str, interval: float = 0.2) -> None:
        self.api, self.namespace, self.interval = api, namespace, interval
        self.seen: list[tuple[float, str, str, str]] = []
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            cond = ready(read_kustomization(self.api, self.namespace))
            self.polls += 1
            state = (cond.get("status", ""), cond.get("reason", ""), cond.get("message", ""))
            if not self.seen or self.seen[-1][1:] != state:
                self.seen.append((time.monotonic(), *state))
            self._stop.wait(self.interval)

    def statuses(self) -> set[str]:
        return {status for _, status, _, _ in self.seen}

    def __enter__(self) -> ReadyHistory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def route_manifest(live: Mapping[str, Any]) -> str:
    """The route as it would be in Git: apiVersion, kind, name and spec only."""
    doc = {
        "apiVersion": live["apiVersion"],
        "kind": live["kind"],
        "metadata": {"name": live["metadata"]["name"]},
        "spec": live["spec"],
    }
    return yaml.safe_dump(doc, sort_keys=False)
