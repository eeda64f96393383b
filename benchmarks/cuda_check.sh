#!/usr/bin/env bash
# The bench on a CUDA machine (a few minutes): compiled step, pinned copies. Outputs go to $OUT when the
# device runner sets it, else to results/<UTC time>-cuda-check/.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-results/$(date -u +%Y%m%dT%H%M%SZ)-cuda-check}"
mkdir -p "$out"
py="${PYTHON:-.venv/bin/python}"
[ -x "$py" ] || py=python3
"$py" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no cuda")'
"$py" benchmarks/cuda_check.py --out "$out" "$@" 2>&1 | tee "$out/cuda_check.log"
