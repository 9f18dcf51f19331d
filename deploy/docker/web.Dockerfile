# syntax=docker/dockerfile:1
# The web app: the single-page app built with npm, served by nginx as an unprivileged user.
# Build from the repository root: docker build -f deploy/docker/web.Dockerfile -t chat/web .
#
# Default command: static files only on port 8080 (web/nginx.conf), as the Kubernetes Ingress
# routes /ws, /v1/ and /auth/ itself. With `-c /etc/nginx/balancer.conf` the same image is the
# TLS balancer of compose.yaml, built from the snippets of deploy/nginx like the local one.
# Base images are pinned to exact versions (see docs/operations.md, "Images").

FROM node:24.11.0-bookworm-slim AS build
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

FROM nginx:1.28.0-alpine
# The image's own site and entrypoint scripts rewrite files under /etc/nginx at start, which a
# read-only root filesystem refuses; this image starts nginx directly with its own files.
RUN rm -f /etc/nginx/conf.d/default.conf
COPY deploy/nginx/http-common.conf deploy/nginx/security-headers.conf deploy/nginx/chat-locations.conf \
     deploy/nginx/attachment-headers.conf /etc/nginx/chat/
COPY deploy/docker/web/nginx.conf deploy/docker/web/balancer.conf /etc/nginx/
COPY --from=build /web/dist /srv/chat/web
# nginx's own unprivileged user (uid 101); pid and temporary files go to /tmp.
USER 101:101
EXPOSE 8080 8443
ENTRYPOINT ["nginx", "-g", "daemon off;"]
CMD ["-c", "/etc/nginx/nginx.conf"]
