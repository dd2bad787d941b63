# The API and the worker share one image; docker-compose.yml picks the command.
# Two stages: wheels are built with the source tree, the runtime image holds only the installed
# package (no compiler, no source checkout) and runs as an unprivileged user.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md worker.py ./
COPY api ./api
COPY activities ./activities
COPY lifecycle ./lifecycle
COPY store ./store
COPY workflows ./workflows
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    LIFECYCLE_DATA_DIR=/home/lifecycle/data \
    LIFECYCLE_API_HOST=0.0.0.0
RUN useradd --system --create-home --uid 10001 lifecycle
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels org-lifecycle-engine && rm -rf /wheels
USER lifecycle
WORKDIR /home/lifecycle
EXPOSE 8000
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
