# syntax=docker/dockerfile:1
# netprobe container image: Node 20 on Debian 12 (bookworm).
#   podman build -t netprobe-exporter:0.2.0 .      (or docker build)
# NODE_IMAGE names the Node base image: the builder runs on it, the runtime on
# its "-slim" variant. Point it at a mirror with
#   --build-arg NODE_IMAGE=registry.example.com/library/node:20-bookworm
# (test/privileged/container-image.test.ts builds this file unchanged on a
# local Debian 12 + Node 20 base passed this way, and runs it as the DaemonSet does.)
#
# The build runs the same scripted step as the README and CI
# (scripts/install.sh: Debian packages, npm ci, tsc build). The BPF object is
# committed (bpf/netprobe.bpf.o, rebuilt and compared by the tests), so no
# compiler is needed at build time and none is in the image.
#
# Running it needs CAP_BPF and CAP_NET_ADMIN, a seccomp profile that lets
# bpf(2) through (docs/deployment.md, "Container runtimes and seccomp") and the
# host's network namespace:
#   docker run --network host --cap-drop ALL --cap-add BPF --cap-add NET_ADMIN netprobe-exporter:0.2.0
# It runs as root inside the container: the added capabilities reach a
# non-root process only as ambient capabilities, which Kubernetes does not
# set (see docs/deployment.md). Not privileged, read-only root filesystem.

ARG NODE_IMAGE=node:20-bookworm

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so a source change does not redo npm ci (install.sh
# below skips npm ci while node_modules is newer than the lockfile).
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN bash scripts/install.sh runtime
# Production dependencies only for the final image.
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM ${NODE_IMAGE}-slim AS runtime
# libbpf1 is the loader's only native dependency (dlopen'ed through koffi).
# npm, npx, corepack and yarn are removed: nothing runs them, and npm carries
# node-gyp (a build toolchain driver) into an image that must hold none.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libbpf1 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
WORKDIR /opt/netprobe
# The repository's layout is kept: dist/ finds bpf/netprobe.bpf.o beside it.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bpf/netprobe.bpf.o ./bpf/netprobe.bpf.o
COPY --from=build /src/bpf/socket-meter.bpf.o ./bpf/socket-meter.bpf.o
COPY --from=build /src/bpf/drop-meter.bpf.o ./bpf/drop-meter.bpf.o
EXPOSE 8081
# SIGTERM (docker stop, Kubernetes) detaches every program and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/netprobe/dist/cli/main.js"]
