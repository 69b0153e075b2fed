# syntax=docker/dockerfile:1
# KRE's images: one target per app, all from one build stage (`nest build` compiles every app and
# lib in one tsc program into dist/, and the apps share libs and proto/). Build one with
#   docker build --target admin-api -t kre/admin-api:0.1.0 .
# Targets: admin-api, deployer, mongo-writer, gateway (the installation's apps) and runner,
# entrypoint (the images of user workloads, which the deployer's kubernetes driver starts with
# `node /app/dist/apps/<app>/src/main.js`), and runner-python (Python nodes:
# `/opt/kre/venv/bin/python -s -P -m kre_runner`). The Helm chart (helm/kre) runs them as uid 1000 with a
# read-only root filesystem and /tmp as an emptyDir.
#
# node:24-slim rather than distroless: the deployer runs `npm ci` to prepare a KRT's
# dependencies, and every image keeps `node` on PATH for the driver's commands.

ARG NODE_IMAGE=node:24-slim
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps apps
COPY libs libs
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json carries "type": "module" for dist/; proto/ holds KRE's own protos, which the apps
# load at run time from beside dist/ (libs/messaging kreProtoDir).
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY proto proto
# The node image's unprivileged user, by number so runAsNonRoot can verify it.
USER 1000:1000

FROM runtime AS admin-api
EXPOSE 8080
# 4 MiB semi-spaces (Node 24's default here is 64 MiB each): keeps the admin-api under 250 MB RSS
# through a 100 MB KRT upload (docs/lifecycle.md, "Performance"; bench/upload.ts).
CMD ["node", "--max-semi-space-size=4", "dist/apps/admin-api/src/main.js"]

FROM runtime AS deployer
EXPOSE 8081
CMD ["node", "dist/apps/deployer/src/main.js"]

FROM runtime AS mongo-writer
EXPOSE 8082
CMD ["node", "dist/apps/mongo-writer/src/main.js"]

FROM runtime AS gateway
EXPOSE 9080 9000 9081
CMD ["node", "dist/apps/gateway/src/main.js"]

FROM runtime AS runner
CMD ["node", "dist/apps/runner/src/main.js"]

FROM runtime AS entrypoint
CMD ["node", "dist/apps/entrypoint/src/main.js"]

# KRE's Python runner (runners/python) in a venv at /opt/kre/venv, the path the kubernetes driver
# runs (KUBERNETES_DEFAULTS.programs.runnerPython). pip stays in the venv: a node's
# install-requirements init container uses it to put the KRT's requirements.txt into the pod's
# /deps volume (wheels only). The working folder is the KRT (KRT_BASE_PATH).
FROM ${PYTHON_IMAGE} AS runner-python
COPY runners/python /tmp/runner-python
RUN python -m venv /opt/kre/venv \
  && /opt/kre/venv/bin/pip install --no-cache-dir --disable-pip-version-check /tmp/runner-python \
  && rm -rf /tmp/runner-python
ENV PYTHONUNBUFFERED=1
USER 1000:1000
WORKDIR /krt/current
CMD ["/opt/kre/venv/bin/python", "-s", "-P", "-m", "kre_runner"]
