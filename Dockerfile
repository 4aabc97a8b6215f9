# The canary operator image: `canary run` (and the canary CLI) on Debian 12's own Python.
#   docker build -t canary:dev .          (any engine; base: debian:bookworm-slim)
#   make image                            (no daemon: buildah builds this same file on a
#                                          Debian base made by mmdebstrap, hack/build-image.sh)
# One source of truth for both: this file. Python comes from Debian's python3 package
# (3.11), not from a python:* image's /usr/local, so any Debian 12 root filesystem is a
# valid base: BASE_IMAGE selects it and the RUN lines below install the same packages on it.
# Pin the base by digest in release builds: --build-arg BASE_IMAGE=debian:bookworm-slim@sha256:…
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# canary-build-packages (hack/build-image.sh and tests/unit/test_image_build.py read this line)
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/canary
WORKDIR /src
# Dependencies first (exact pins, their own layer), then the package without deps.
COPY requirements.lock ./
RUN /opt/canary/bin/pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY canary ./canary
RUN /opt/canary/bin/pip install --no-deps . \
 && /opt/canary/bin/pip check \
 && /opt/canary/bin/pip uninstall -y -q pip setuptools \
 && /opt/canary/bin/python -m compileall -q /opt/canary

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# canary-runtime-packages (hack/build-image.sh and tests/unit/test_image_build.py read this line)
RUN apt-get update && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
# Everything readable, nothing writable: the chart runs it with a read-only root FS
# (only an emptyDir on /tmp), so no .pyc writes at run time (compiled above instead).
ENV PATH=/opt/canary/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/canary /opt/canary
# 65532: the conventional "nonroot" uid/gid. It needs a passwd entry: kopf asks
# getpass.getuser() for its identity, which raises KeyError for an unknown uid.
RUN groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nonroot
USER 65532:65532
WORKDIR /tmp
# health (GET /healthz), metrics (GET /metrics)
EXPOSE 8080 9090
ENTRYPOINT ["canary", "run"]
