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

import re
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
