# syntax=docker/dockerfile:1
#
# Lào Cai Travel API.
#   docker build -t laocai-api .
#   docker run --rm -p 8000:8000 laocai-api          # embedded SQLite under /var/lib/laocai
#   docker compose up --build                        # with PostgreSQL, Redis and Meilisearch (compose.yaml)
#
# `laocai serve` applies the Alembic migrations, imports the shipped catalogue (data/) into an empty database
# and serves on LAOCAI_HOST:LAOCAI_PORT.

ARG PYTHON_IMAGE=python:3.11-slim

# Both stages start from the same image: the virtual environment's interpreter is a link to its Python.
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1


FROM base AS builder

# uv from PyPI, pinned to the version that writes uv.lock (no installer script).
ARG UV_VERSION=0.13.9
RUN PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
    pip install --no-cache-dir "uv==${UV_VERSION}"

# Use the image's Python (never download one), compile bytecode at install time, and copy (not hard-link) out of
# the cache mount.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first, from the lockfile only: this layer is reused until pyproject.toml or uv.lock change.
# --frozen installs exactly what uv.lock pins and fails rather than re-resolving.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# Then the project. It stays an editable install (uv's default): src/kernel/config.py finds data/, locales/ and
# alembic.ini next to src/, so the sources must live in /app, not in site-packages.
COPY alembic.ini README.md ./
COPY src/ ./src/
COPY data/ ./data/
# locales/ may be absent from a checkout while it holds no catalog (git keeps no empty folders): the wildcard lets
# the build go on without it, and missing catalogs fall back to the untranslated messages.
COPY locale[s] ./locales/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev


FROM base AS runtime

LABEL org.opencontainers.image.title="Lào Cai Travel API" \
      org.opencontainers.image.description="Digital map catalogue, bookings, payments and multilingual guide for Lào Cai province"

# An unprivileged user; the code stays owned by root (read-only to the service), only the state folder is writable.
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" laocai \
    && useradd --system --uid "${APP_UID}" --gid laocai --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin laocai \
    && install -d -o laocai -g laocai -m 0750 /var/lib/laocai

WORKDIR /app
COPY --from=builder /app /app

ENV PATH="/app/.venv/bin:${PATH}" \
    LAOCAI_HOST=0.0.0.0 \
    LAOCAI_PORT=8000 \
    LAOCAI_DATA_DIR=/var/lib/laocai

USER ${APP_UID}:${APP_UID}

EXPOSE 8000

# No curl in slim images: probe with the standard library, bypassing any HTTP(S)_PROXY of the environment.
# The start period covers the first start (migrations and catalogue import happen before the server listens).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:' + os.environ.get('LAOCAI_PORT', '8000') + '/health/live', timeout=4)"]

CMD ["laocai", "serve"]
