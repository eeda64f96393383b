#!/usr/bin/env bash
# Replace Pillow with pillow-simd where a C compiler and the image libraries' headers are present.
# torchvision depends on Pillow and pip reinstalls it over pillow-simd, so this runs after every install.
# AVX2 is enabled where the CPU has it. Exit 1 (and stock Pillow stays) when it cannot be built.
set -uo pipefail
PYBIN=${1:-.venv/bin/python}
if "$PYBIN" -c "import importlib.metadata as m; m.version('pillow-simd')" >/dev/null 2>&1; then
  echo "pillow-simd: already active"; exit 0
fi
command -v cc >/dev/null 2>&1 || { echo "pillow-simd: no C compiler"; exit 1; }
for h in zlib.h jpeglib.h; do
  if ! echo "#include <$h>" | cc -E - >/dev/null 2>&1; then echo "pillow-simd: no $h (install zlib1g-dev, libjpeg-dev)"; exit 1; fi
done
flags=""
grep -qw avx2 /proc/cpuinfo 2>/dev/null && flags="-mavx2"
# Build first, swap after: a failed build must leave the working Pillow in place.
wheeldir=$(mktemp -d)
trap 'rm -rf "$wheeldir"' EXIT
if ! CC="cc $flags" "$PYBIN" -m pip wheel -q --no-deps --no-binary pillow-simd -w "$wheeldir" "pillow-simd>=9" >/dev/null 2>&1; then
  echo "pillow-simd: build failed"; exit 1
fi
"$PYBIN" -m pip uninstall -q -y pillow >/dev/null 2>&1
if "$PYBIN" -m pip install -q --no-deps "$wheeldir"/*.whl; then
  echo "pillow-simd: installed${flags:+ with AVX2}"
else
  "$PYBIN" -m pip install -q pillow; echo "pillow-simd: install failed, stock Pillow restored"; exit 1
fi
