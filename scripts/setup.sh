#!/usr/bin/env bash
# Set-up from a clean clone: a virtualenv in .venv with harness installed (editable), then pillow-simd in
# place of Pillow where it can be built. Usage: bash scripts/setup.sh [--test] [--bench]
#   --test   also the test dependencies (pytest, and the extras the tests exercise)
#   --bench  also the benchmark peers (OpenCV, isal, libdeflate binding)
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
for a in "$@"; do
  case "$a" in
    --test) extras="${extras:+$extras,}test" ;;
    --bench) extras="${extras:+$extras,}bench" ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# torch and torchvision first, pinned to the releases this machine's pip may install.
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
bash scripts/pillow_simd.sh .venv/bin/python || echo "setup: stock Pillow stays: pillow-simd could not be built or installed here (reason above)"
.venv/bin/harness info --short
