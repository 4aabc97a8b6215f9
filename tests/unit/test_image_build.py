"""The operator image has one recipe: the Dockerfile, for `docker build` and `make image` alike.

`make image` (hack/build-image.sh) makes a Debian base root filesystem with mmdebstrap and
runs `buildah bud` on the same Dockerfile with BASE_IMAGE pointing at it; the Dockerfile's
own default base is debian:<suite>-slim. Both must therefore be the same Debian release,
Python must come from Debian's package (not a python:* image's /usr/local), and the build
script must not install anything on its own. What the built image really contains is
checked in tests/e2e/test_node_helm.py
(`test_image_holds_the_pinned_packages_and_a_nonroot_user`).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
BUILD_IMAGE = (REPO / "hack" / "build-image.sh").read_text()
INSTRUCTIONS = "\n".join(ln for ln in DOCKERFILE.splitlines() if not ln.startswith("#"))


def marked_packages(marker: str) -> list[str]:
    """The apt packages of the RUN line right after the `# <marker>` comment."""
    lines = DOCKERFILE.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"# {marker}"))
    run = lines[at + 1]
    found = re.search(r"apt-get install -y --no-install-recommends ([a-z0-9.+\- ]+?) \\?$", run)
    assert found, f"line after '# {marker}' is not an apt-get install: {run!r}"
    return found.group(1).split()


def test_default_base_and_make_image_base_are_the_same_debian_release() -> None:
    base = re.search(r"^ARG BASE_IMAGE=debian:([a-z]+)-slim$", DOCKERFILE, re.M)
    assert base, "Dockerfile's default BASE_IMAGE is not debian:<suite>-slim"
    suite = re.search(r'^: "\$\{DEBIAN_SUITE:=([a-z]+)\}"', BUILD_IMAGE, re.M)
    assert suite, "hack/build-image.sh sets no DEBIAN_SUITE default"
    assert base.group(1) == suite.group(1)


def test_every_stage_builds_on_base_image_and_python_comes_from_debian() -> None:
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert froms == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert "python3" in marked_packages("canary-build-packages")
    assert "python3-venv" in marked_packages("canary-build-packages")
    assert "python3" in marked_packages("canary-runtime-packages")
    assert "/usr/local" not in INSTRUCTIONS
    assert "python3 -m venv /opt/canary" in INSTRUCTIONS


def test_make_image_builds_the_dockerfile_and_installs_nothing_itself() -> None:
    joined = BUILD_IMAGE.replace("\\\n", " ")  # shell line continuations
    assert re.search(r'bud .*--build-arg "BASE_IMAGE=\$BASE_REF" -f "\$REPO/Dockerfile"', joined)
    for own_install in ("apt-get install -y -qq --no-install-recommends python", "pip install"):
        assert own_install not in BUILD_IMAGE
    # mmdebstrap makes a minbase root filesystem: no extra packages (no --include)
    assert "--variant=minbase" in BUILD_IMAGE
    assert "--include" not in BUILD_IMAGE


def test_image_runs_as_nonroot_uid_with_the_operator_entrypoint() -> None:
    assert re.search(r"^USER 65532:65532$", DOCKERFILE, re.M)
    assert re.search(r'^ENTRYPOINT \["canary", "run"\]$', DOCKERFILE, re.M)
    assert "requirements.lock" in DOCKERFILE


# -- make image-push (hack/push-image.sh), against a stand-in buildah ------------------------

FAKE_BUILDAH = """#!/bin/sh
echo "$@" >>"$FAKE_LOG"
case " $* " in
  *" inspect "*) [ -z "$FAKE_NO_IMAGE" ] ;;
  *" push "*)
    while [ $# -gt 0 ]; do
      [ "$1" = --digestfile ] && printf 'sha256:%064d' 7 >"$2"
      shift
    done ;;
esac
"""


def push(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "buildah").write_text(FAKE_BUILDAH)
    (bin_dir / "buildah").chmod(0o755)
    log = tmp_path / "buildah.log"
    log.write_text("")
    run_env = {k: v for k, v in os.environ.items() if k != "CANARY_IMAGE"}
    run_env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_LOG=str(log))
    run_env.update(CANARY_CACHE=str(tmp_path / "cache"), **env)
    proc = subprocess.run(
        ["bash", str(REPO / "hack" / "push-image.sh"), *args],
        capture_output=True, text=True, env=run_env, timeout=30, check=False,
    )  # fmt: skip
    return proc, log.read_text()


def test_image_push_pushes_make_images_storage_to_the_destination(tmp_path: Path) -> None:
    proc, calls = push(tmp_path, "reg.example.com/team/canary:0.2.0", "--creds", "robot:s3cret")
    assert proc.returncode == 0, proc.stderr
    digest = "sha256:" + "0" * 63 + "7"
    assert proc.stdout.splitlines()[-1] == f"reg.example.com/team/canary:0.2.0@{digest}"
    store = tmp_path / "cache" / "image"
    (pushed,) = [line for line in calls.splitlines() if " push " in line]
    words = pushed.split()
    # the storage hack/build-image.sh builds into, the image it tags, docker:// implied
    assert words[:4] == ["--root", str(store / "storage"), "--runroot", str(store / "run")]
    assert words[-2:] == ["localhost/canary:dev", "docker://reg.example.com/team/canary:0.2.0"]
    assert "--creds robot:s3cret" in pushed  # the options after the destination pass through


def test_image_push_keeps_an_explicit_transport_and_tls_option(tmp_path: Path) -> None:
    proc, calls = push(tmp_path, "oci-archive:/tmp/canary.tar", "--tls-verify=false",
                       CANARY_IMAGE="localhost/canary:x")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (pushed,) = [line for line in calls.splitlines() if " push " in line]
    assert "--tls-verify=false" in pushed.split()
    assert pushed.split()[-2:] == ["localhost/canary:x", "oci-archive:/tmp/canary.tar"]


def test_image_push_refuses_without_destination_or_image(tmp_path: Path) -> None:
    proc, calls = push(tmp_path)
    assert proc.returncode != 0 and "usage" in proc.stderr
    proc, calls = push(tmp_path, "--creds", "u:p", "reg.example.com/c:1")  # options go after
    assert proc.returncode != 0 and "destination" in proc.stderr
    proc, calls = push(tmp_path, "reg.example.com/canary:1", FAKE_NO_IMAGE="1")
    assert proc.returncode != 0 and "make image" in proc.stderr
    assert " push " not in calls  # nothing pushed


def test_make_image_push_needs_image_and_passes_push_args_after_it() -> None:
    def dry(*args: str) -> subprocess.CompletedProcess[str]:
        make = ["make", "-n", "--no-print-directory", "-C", str(REPO), "image-push", *args]
        return subprocess.run(make, capture_output=True, text=True, timeout=30, check=False)

    bare = dry()
    assert bare.returncode != 0 and "usage: make image-push IMAGE=" in bare.stderr
    planned = dry("IMAGE=reg.example.com/c:1", "PUSH_ARGS=--creds u:p").stdout.splitlines()
    assert "bash hack/build-image.sh --report" in planned  # make image first
    assert planned[-1] == "bash hack/push-image.sh reg.example.com/c:1 --creds u:p"
