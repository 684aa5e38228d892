# syntax=docker/dockerfile:1
#
# Cattail server image.
#   docker build -t cattail:0.1.0 .
#   docker run --rm -p 5473:5473 -p 9098:9098 cattail:0.1.0 --datastore file --file-dir /data
#
# The Node version is the one package.json pins for development and CI (devDependency `node`),
# so the image runs exactly what the tests ran; test/deploy/image.test.ts keeps them equal.
# Node 24 runs TypeScript by stripping types, so there is no build step: src/ is shipped as is.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- dependencies: production packages only, installed from the lockfile -------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed at run time (msgpackr's native extension loads
# a prebuilt binary, and falls back to JavaScript without one), and the slim image has no
# compiler for anything that would try to build.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="cattail" \
      org.opencontainers.image.description="Typha-style fan-out sync server for Calico node agents" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed, unprivileged uid/gid that Kubernetes' runAsNonRoot can verify (a name cannot be).
RUN groupadd --system --gid 10001 cattail \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cattail

WORKDIR /app
ENV NODE_ENV=production
# Everything is root-owned and read-only to the server: it writes nothing at run time (logs go
# to stdout, no compile cache, no npm), so the root filesystem can be mounted read-only.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src

USER 10001:10001
# 5473: sync (WebSocket, agents).  9098: ops HTTP (/liveness, /readiness, /metrics, /status).
EXPOSE 5473 9098
# On SIGTERM Cattail turns unready, stops accepting and sheds its clients spread over the
# shutdown timeout; give it that long (terminationGracePeriodSeconds) before SIGKILL.
STOPSIGNAL SIGTERM
# node directly (not npm start): it receives the signal itself, and npm would write to $HOME.
ENTRYPOINT ["node", "src/main.ts"]
# Default arguments for a Kubernetes deployment (in-cluster credentials). Anything else comes
# from CATTAIL_* variables or extra arguments; `--help` lists them all.
CMD ["--datastore", "kubernetes"]
