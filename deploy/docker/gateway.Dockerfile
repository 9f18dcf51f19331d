# syntax=docker/dockerfile:1
# The WebSocket gateway (`python -m chat_gateway`).
# Build from the repository root: docker build -f deploy/docker/gateway.Dockerfile -t chat/gateway .
# Base images are pinned to exact versions (see docs/operations.md, "Images").

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11.13-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
# Bytecode is compiled here because the runtime root filesystem is read-only; the machine's own
# Python is used, never a downloaded one; the environment is copied whole into the runtime stage.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# `--locked` checks uv.lock against every workspace member, so all their pyproject files come
# first; the third-party layer below is rebuilt only when one of them or the lock changes.
COPY pyproject.toml uv.lock ./
COPY services/common/pyproject.toml services/common/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/auth-service/pyproject.toml services/auth-service/
COPY services/persistence-worker/pyproject.toml services/persistence-worker/
COPY services/media-worker/pyproject.toml services/media-worker/
COPY services/migrations/pyproject.toml services/migrations/
COPY services/testing/pyproject.toml services/testing/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --package chat-gateway --no-dev --no-editable --no-install-workspace
# Only this service's code (and the shared library it imports) goes into the image.
COPY services/common/ services/common/
COPY services/gateway/ services/gateway/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --package chat-gateway --no-dev --no-editable

FROM python:3.11.13-slim-bookworm
# libmagic: the gateway sniffs the type of every uploaded file from its first bytes with it
# (python-magic loads it when the gateway starts). Bookworm's version, pinned.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1=1:5.44-3 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 chat \
 && useradd --system --uid 10001 --gid chat --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin chat
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHAT_GATEWAY_LOG_FORMAT=json \
    CHAT_GATEWAY_HOST=0.0.0.0
WORKDIR /app
USER 10001:10001
EXPOSE 8101 8111
# SIGTERM drains: `reconnect` to every client, DRAIN_GRACE_S, then close 1012.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "chat_gateway"]
