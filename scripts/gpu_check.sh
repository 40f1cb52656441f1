#!/usr/bin/env bash
# The GPU path in minutes, on a machine with one NVIDIA GPU and PyTorch alone (no Django, no Docker):
# the CUDA kernel tests, then one correct and one wrong solution per lab through the harness on the GPU.
# One line per check. See scripts/gpu_check.py; docs/benchmarks.md records what it printed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" scripts/gpu_check.py "$@"
