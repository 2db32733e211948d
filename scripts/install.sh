#!/usr/bin/env bash
# Installs whatever is missing, then builds. Idempotent and quiet when
# everything is already there. Usage: scripts/install.sh runtime|test|bench
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-runtime}

# libbpf1 is the loader's only native dependency; iproute2 for `ip`/`tc`.
pkgs=(libbpf1 iproute2)
case "$profile" in
  runtime) ;;
  test) pkgs+=(clang llvm libbpf-dev linux-libc-dev iperf3 prometheus util-linux libcap2-bin openssl bpftool prometheus-node-exporter wrk containernetworking-plugins chromium tmux podman buildah runc mmdebstrap nftables)
    # kubectl for `kubectl kustomize`: Debian's kubernetes-client only where no kubectl is installed (they conflict).
    command -v kubectl >/dev/null || pkgs+=(kubernetes-client) ;;
  bench) pkgs+=(clang llvm libbpf-dev linux-libc-dev iperf3 prometheus prometheus-node-exporter wrk util-linux) ;;
  *) echo "usage: $0 runtime|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "netprobe: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "netprobe: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's packages start their services on install; the tests and
  # benchmarks start their own, on ports of their choosing.
  for svc in prometheus prometheus-node-exporter; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
      systemctl stop "$svc" || true
    fi
  done
fi

# npm ci only when the installed tree is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "netprobe: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

npm run --silent build
