# syntax=docker/dockerfile:1
# netprobe container image: Node 20 on Debian 12 (bookworm).
#   docker build -t netprobe-exporter:0.1.0 .
# The build runs the same scripted step as the README and CI
# (scripts/install.sh: Debian packages, npm ci, tsc build). The BPF object is
# committed (bpf/netprobe.bpf.o, rebuilt and compared by the tests), so no
# compiler is needed at build time and none is in the image.
#
# Running it needs CAP_BPF and CAP_NET_ADMIN and the host's network namespace:
#   docker run --network host --cap-drop ALL --cap-add BPF --cap-add NET_ADMIN netprobe-exporter:0.1.0
# It runs as root inside the container: the added capabilities reach a
# non-root process only as ambient capabilities, which Kubernetes does not
# set (see docs/deployment.md). Not privileged, read-only root filesystem.

FROM node:20-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not redo npm ci (install.sh
# below skips npm ci while node_modules is newer than the lockfile).
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN bash scripts/install.sh runtime
# Production dependencies only for the final image.
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM node:20-bookworm-slim AS runtime
# libbpf1 is the loader's only native dependency (dlopen'ed through koffi).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libbpf1 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /opt/netprobe
# The repository's layout is kept: dist/ finds bpf/netprobe.bpf.o beside it.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bpf/netprobe.bpf.o ./bpf/netprobe.bpf.o
EXPOSE 8081
# SIGTERM (docker stop, Kubernetes) detaches every program and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/netprobe/dist/cli/main.js"]
