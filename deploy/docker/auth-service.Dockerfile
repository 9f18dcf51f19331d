# syntax=docker/dockerfile:1
# The auth service (`python -m chat_auth`). The signing key is mounted at run time
# (CHAT_AUTH_SIGNING_KEY_FILE); the image holds no key.
# Build from the repository root: docker build -f deploy/docker/auth-service.Dockerfile -t chat/auth-service .
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
    uv sync --locked --package chat-auth-service --no-dev --no-editable --no-install-workspace
# Only this service's code (and the shared library it imports) goes into the image.
COPY services/common/ services/common/
COPY services/auth-service/ services/auth-service/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --package chat-auth-service --no-dev --no-editable

FROM python:3.11.13-slim-bookworm
RUN groupadd --system --gid 10001 chat \
 && useradd --system --uid 10001 --gid chat --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin chat
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHAT_AUTH_LOG_FORMAT=json \
    CHAT_AUTH_HOST=0.0.0.0
WORKDIR /app
USER 10001:10001
EXPOSE 8200
ENTRYPOINT ["python", "-m", "chat_auth"]
