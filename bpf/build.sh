#!/usr/bin/env bash
# Compiles a BPF program. The object is committed so running needs no
# compiler; test/unit/bpf-object.test.ts rebuilds it and fails if the two differ.
# Usage: bpf/build.sh [output] [source]
#   default: every shipped object, bpf/netprobe.bpf.c -> bpf/netprobe.bpf.o,
#   bpf/socket-meter.bpf.c -> bpf/socket-meter.bpf.o and
#   bpf/drop-meter.bpf.c -> bpf/drop-meter.bpf.o; the benchmarks build
#   their comparison programs (bench/bpf/*.bpf.c) with the same flags.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  "$0" bpf/netprobe.bpf.o bpf/netprobe.bpf.c
  "$0" bpf/socket-meter.bpf.o bpf/socket-meter.bpf.c
  exec "$0" bpf/drop-meter.bpf.o bpf/drop-meter.bpf.c
fi
out=${1:-bpf/netprobe.bpf.o}
src=${2:-bpf/netprobe.bpf.c}
arch_include=/usr/include/$(uname -m)-linux-gnu
# Relative paths and stripped DWARF (BTF stays) keep the object byte-identical
# wherever the tree is checked out.
clang -O2 -g -target bpf -mcpu=v3 -Wall -Werror -fdebug-prefix-map="$PWD"=. \
  -I"$arch_include" -Ibpf \
  -c "$src" -o "$out"
llvm-strip -g "$out"
