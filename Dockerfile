# The canary operator image: `canary run` (and the canary CLI) on a slim Python base.
# Not built in this repository's CI (no container engine there); build it with
#   docker build -t ghcr.io/canary-dev/canary:0.1.0 .
# Pin the base by digest in release builds: --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:…
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/canary
WORKDIR /src
# Dependencies first (exact pins, their own layer), then the package without deps.
COPY requirements.lock ./
RUN /opt/canary/bin/pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY canary ./canary
RUN /opt/canary/bin/pip install --no-deps . \
 && /opt/canary/bin/pip check \
 && /opt/canary/bin/python -m compileall -q /opt/canary

FROM ${PYTHON_IMAGE}
# Everything readable, nothing writable: the chart runs it with a read-only root FS
# (only an emptyDir on /tmp), so no .pyc writes at run time (compiled above instead).
ENV PATH=/opt/canary/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/canary /opt/canary
# 65532: the conventional "nonroot" uid/gid; no entry in /etc/passwd is needed.
USER 65532:65532
WORKDIR /tmp
# health (GET /healthz), metrics (GET /metrics)
EXPOSE 8080 9090
ENTRYPOINT ["canary", "run"]
