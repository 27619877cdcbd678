#!/usr/bin/env bash
# Installs what a fresh machine with only the Swift toolchain lacks: OpenBLAS, OpenMPI (for trmdis-mpi and
# its tests; libtrmdis.so never links it), pkg-config and, on x86-64, qemu-user (the tests' emulated CPUs,
# scripts/check-emulated-cpus.sh), through apt. Does nothing when they are there.
set -euo pipefail
need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if ! pkg-config --exists openblas 2>/dev/null; then need+=(libopenblas-dev); fi
if ! pkg-config --exists ompi-c 2>/dev/null; then need+=(libopenmpi-dev); fi
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
if [ "$(uname -m)" = x86_64 ] && ! command -v qemu-x86_64 >/dev/null 2>&1; then need+=(qemu-user); fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
