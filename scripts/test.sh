#!/usr/bin/env bash
# The whole test suite: type-check, lint, format check, unit tests, then the
# kernel tests (root; each creates its own network namespaces and removes
# them, also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent typecheck
npm run --silent lint
npm run --silent format:check
node --import tsx --test --test-reporter=spec test/unit/*.test.ts
if [ "$(id -u)" -ne 0 ]; then
  echo "netprobe: the kernel tests need root (CAP_BPF, CAP_NET_ADMIN, network namespaces); skipped" >&2
  exit 1
fi
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/privileged/*.test.ts
