#!/usr/bin/env bash
# Make the PIL that imports pillow-simd where it can be built; stock Pillow stays only where it cannot.
# Usage: bash scripts/pillow_simd.sh [PYTHON]   (default: the repository's .venv/bin/python)
#
# torchvision depends on Pillow, so every pip install can put stock Pillow's PIL files back over
# pillow-simd's while both distributions stay listed: package metadata says nothing about which PIL
# imports. So this decides by importing PIL (pillow-simd's version carries ".post"), and runs after
# every install. The swap uninstalls both distributions, then installs the pillow-simd wheel. The wheel
# is built once (AVX2 where the CPU has it) and kept under .cache/pillow-simd/ (or $PILLOW_SIMD_CACHE), so
# reruns do not rebuild.
# Exit 0 when pillow-simd imports at the end; exit 1, with stock Pillow importing, when it cannot.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PYBIN=${1:-$root/.venv/bin/python}

pil_version() { "$PYBIN" -c "import PIL; print(PIL.__version__)" 2>/dev/null; }

have=$(pil_version)
case "$have" in
  *.post*) echo "pillow-simd: active ($have)"; exit 0 ;;
esac

flags=""
grep -qw avx2 /proc/cpuinfo 2>/dev/null && flags="-mavx2"
# One wheel per interpreter, platform and instruction set.
tag=$("$PYBIN" -c "import sys, sysconfig; print(sys.implementation.cache_tag + '-' + sysconfig.get_platform())") \
  || { echo "pillow-simd: $PYBIN does not run"; exit 1; }
cache="${PILLOW_SIMD_CACHE:-$root/.cache/pillow-simd}/$tag${flags:+-avx2}"
wheel=$(ls -t "$cache"/*.whl 2>/dev/null | head -n 1)

if [ -z "$wheel" ]; then
  command -v cc >/dev/null 2>&1 || { echo "pillow-simd: no C compiler"; exit 1; }
  for h in zlib.h jpeglib.h; do
    if ! echo "#include <$h>" | cc -E - >/dev/null 2>&1; then
      echo "pillow-simd: no $h (install zlib1g-dev, libjpeg-dev)"; exit 1
    fi
  done
  # Build first, swap after: a failed build must leave the working Pillow in place.
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  echo "pillow-simd: building the wheel${flags:+ with AVX2} (once; kept in ${cache#"$root"/})"
  if ! CC="cc $flags" "$PYBIN" -m pip wheel -q --no-deps --no-binary pillow-simd -w "$build" "pillow-simd>=9" \
      >"$build/log" 2>&1; then
    tail -n 20 "$build/log" >&2; echo "pillow-simd: build failed"; exit 1
  fi
  mkdir -p "$cache" && cp "$build"/*.whl "$cache"/ || { echo "pillow-simd: cannot write $cache"; exit 1; }
  wheel=$(ls -t "$cache"/*.whl | head -n 1)
fi

# Both uninstalled: when stock Pillow's files lie over pillow-simd's, removing one leaves a broken PIL.
"$PYBIN" -m pip uninstall -q -y pillow pillow-simd >/dev/null 2>&1
"$PYBIN" -m pip install -q --no-deps --force-reinstall "$wheel" >/dev/null 2>&1
now=$(pil_version)
case "$now" in
  *.post*) echo "pillow-simd: installed $now${flags:+ with AVX2}${have:+ (was Pillow $have)}"; exit 0 ;;
esac
rm -f "$wheel"   # a wheel that does not import is not kept: the next run builds afresh
"$PYBIN" -m pip uninstall -q -y pillow-simd >/dev/null 2>&1
"$PYBIN" -m pip install -q --force-reinstall pillow >/dev/null 2>&1
echo "pillow-simd: install of ${wheel##*/} failed (PIL ${now:-does not import}); stock Pillow $(pil_version) restored"
exit 1
