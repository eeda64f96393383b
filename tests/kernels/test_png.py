"""kernels.png against Pillow (kernels.reference.png_decode): the libpng conformance corpus, PNGs built
here with every colour type, depth, filter and Adam7, and damaged inputs that must give PNGError only."""
from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kernels.png import PNGError, PNGInfo, decode, decode_into, decode_reusing, read_info
from kernels.reference import png_decode

# The repository root's sibling (this file sits two levels below the root).
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "png-conformance"
CORPUS_FILES = sorted(CORPUS.rglob("*.png")) if CORPUS.is_dir() else []
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
COMBOS = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 2), (3, 4), (3, 8),
          (4, 8), (4, 16), (6, 8), (6, 16)]


def _pillow(data: bytes):
    """Pillow's RGB array, or None where Pillow refuses the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # palette-transparency conversion warning
            return png_decode(data)
    except Exception:  # Pillow's refusals span OSError, SyntaxError, ValueError, ...
        return None


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filter(cur: bytes, prev: bytes, bpp: int, ft: int) -> bytes:
    """Forward PNG filter of one scanline (the encoder side, plain Python)."""
    out = bytearray(len(cur))
    for i, x in enumerate(cur):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[ft]
        out[i] = (x - pred) & 0xFF
    return bytes([ft]) + bytes(out)


def make_png(ct: int, bd: int, w: int, h: int, *, interlace: bool = False, seed: int = 0,
             palette_entries: int = 256, trns: bytes | None = None, idat_parts: int = 1) -> bytes:
    """A PNG of random scanline bytes (every byte string is a valid image) with a random filter per
    scanline, so each filter meets each layout, plain and Adam7."""
    rng = random.Random(seed)
    bits = bd * CHANNELS[ct]
    bpp = max(1, bits // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        pw, ph = (w - x0 + dx - 1) // dx, (h - y0 + dy - 1) // dy
        if pw <= 0 or ph <= 0:
            continue
        n = (pw * bits + 7) // 8
        prev = bytes(n)
        for _ in range(ph):
            # Mostly smooth rows (small steps) with some noise, so every predictor branch is taken.
            base = rng.randrange(256)
            cur = bytes((base + i * rng.choice((0, 0, 1, 7)) + rng.choice((0, 0, 0, 50))) & 0xFF
                        for i in range(n))
            raw += _filter(cur, prev, bpp, rng.randrange(5))
            prev = cur
    z = zlib.compress(bytes(raw))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bd, ct, 0, 0, int(interlace)))
    if ct == 3:
        out += chunk(b"PLTE", bytes(rng.randrange(256) for _ in range(3 * palette_entries)))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    step = -(-len(z) // idat_parts)
    for k in range(0, len(z), step):
        out += chunk(b"IDAT", z[k : k + step])
    return out + chunk(b"IEND", b"")


def cad_png(size: int = 96, seed: int = 0) -> bytes:
    from PIL import ImageDraw

    rng = random.Random(seed)
    im = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(im)
    for _ in range(4):
        pts = [(rng.uniform(0, size), rng.uniform(0, size)) for _ in range(4)]
        g = rng.randint(120, 220)
        draw.polygon(pts, fill=(g, g, g), outline=(30, 30, 30), width=2)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


# -- the conformance corpus --------------------------------------------------------------------------

@pytest.mark.skipif(not CORPUS_FILES, reason=f"PNG conformance corpus not present under {CORPUS}")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_matches_pillow(path: Path) -> None:
    data = path.read_bytes()
    ref = _pillow(data)
    if ref is None:
        with pytest.raises(PNGError):
            decode(data)
        return
    try:
        got = decode(data)
    except PNGError:
        if "crashers" in path.parts:
            return  # broken on purpose; Pillow is lenient, we may refuse
        raise
    assert got.dtype == np.uint8 and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    with Image.open(io.BytesIO(data)) as im:
        info = read_info(data)
        assert (info.width, info.height, info.mode) == (*im.size, im.mode)


# -- PNGs built here -----------------------------------------------------------------------------------

@pytest.mark.parametrize("interlace", [False, True], ids=["plain", "adam7"])
@pytest.mark.parametrize("ct,bd", COMBOS, ids=[f"ct{c}-{b}bit" for c, b in COMBOS])
def test_every_layout_and_filter(ct: int, bd: int, interlace: bool) -> None:
    for seed, (w, h) in enumerate([(1, 1), (3, 2), (13, 11), (37, 9)]):
        data = make_png(ct, bd, w, h, interlace=interlace, seed=seed, idat_parts=1 + seed % 3)
        ref = _pillow(data)
        assert ref is not None
        np.testing.assert_array_equal(decode(data), ref)
        info = read_info(data)
        assert info == PNGInfo(w, h, bd, ct, interlace, Image.open(io.BytesIO(data)).mode)


def test_palette_short_and_transparent() -> None:
    # Indices past a short palette are black in Pillow; tRNS changes nothing in RGB.
    for bd in (1, 2, 4, 8):
        data = make_png(3, bd, 19, 7, seed=bd, palette_entries=1, trns=b"\x00")
        np.testing.assert_array_equal(decode(data), _pillow(data))
    grey = make_png(0, 8, 9, 9, trns=b"\x00\x10")
    rgb = make_png(2, 8, 9, 9, trns=b"\x00\x10\x00\x20\x00\x30")
    for data in (grey, rgb):
        np.testing.assert_array_equal(decode(data), _pillow(data))


def test_cad_render_and_decode_into() -> None:
    data = cad_png()
    ref = _pillow(data)
    np.testing.assert_array_equal(decode(data), ref)
    out = np.full((96, 96, 3), 7, dtype=np.uint8)
    assert decode_into(data, out) is out
    np.testing.assert_array_equal(out, ref)
    with pytest.raises(ValueError):
        decode_into(data, np.empty((96, 95, 3), dtype=np.uint8))
    shapes = []
    buf = np.full((96, 96, 3), 7, dtype=np.uint8)
    assert decode_reusing(data, lambda shape: shapes.append(shape) or buf) is buf   # the buffer alloc gives
    assert shapes == [(96, 96, 3)]
    np.testing.assert_array_equal(buf, ref)
    with pytest.raises(PNGError):   # malformed input: still PNGError, and nothing asked of alloc
        decode_reusing(data[:20], lambda shape: shapes.append(shape) or buf)
    assert len(shapes) == 1


# -- damaged and hostile inputs ------------------------------------------------------------------------

def _samples() -> list[bytes]:
    return [cad_png(48, 1), make_png(2, 16, 9, 7, seed=3, idat_parts=2),
            make_png(3, 4, 11, 6, interlace=True, seed=4), make_png(4, 8, 5, 5, seed=5)]


def test_truncation_is_pngerror() -> None:
    for data in _samples():
        for cut in range(len(data)):
            with pytest.raises(PNGError):
                decode(data[:cut])


def test_trailing_data_is_pngerror() -> None:
    data = cad_png(32)
    for extra in (b"\0", b"junk", chunk(b"IEND", b"")):
        with pytest.raises(PNGError, match="trailing data"):
            decode(data + extra)


def test_flipped_bytes_give_pngerror_or_pixels() -> None:
    rng = random.Random(1234)
    for data in _samples():
        for _ in range(150):
            bad = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            try:
                out = decode(bytes(bad))
            except PNGError:
                continue
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


def _forged_header(w: int, h: int, tail: bytes = b"") -> bytes:
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + tail


@pytest.mark.parametrize("w,h", [(40000, 40000), (13000, 13000)])
def test_forged_header_refused_fast_without_allocating(w: int, h: int) -> None:
    # 40000^2 is over the pixel limit; 13000^2 is under it but its IDAT cannot inflate that far.
    tail = chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    data = _forged_header(w, h, tail)
    assert read_info(data).width == w
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(PNGError):
        decode(data)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.05
    assert peak < 1 << 20


def test_pixel_limit() -> None:
    data = make_png(0, 8, 10, 10)
    assert decode(data, max_pixels=100).shape == (10, 10, 3)
    with pytest.raises(PNGError, match="exceeds"):
        decode(data, max_pixels=99)


def _rebuild(chunks: list[bytes]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def test_structural_errors() -> None:
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0))
    rows = b"".join(b"\0" + bytes(4) for _ in range(4))
    idat = chunk(b"IDAT", zlib.compress(rows))
    iend = chunk(b"IEND", b"")
    assert decode(_rebuild([ihdr, idat, iend])).shape == (4, 4, 3)
    half = zlib.compress(rows)
    split = [chunk(b"IDAT", half[:5]), chunk(b"tEXt", b"a\0b"), chunk(b"IDAT", half[5:])]
    cases = {
        "not consecutive": [ihdr, *split, iend],
        "missing IEND": [ihdr, idat],
        "no IDAT": [ihdr, iend],
        "unknown critical": [ihdr, chunk(b"ABCD", b""), idat, iend],
        "second IHDR": [ihdr, ihdr, idat, iend],
        "bad filter": [ihdr, chunk(b"IDAT", zlib.compress(b"\5" + rows[1:])), iend],
        "too little data": [ihdr, chunk(b"IDAT", zlib.compress(rows[:-1])), iend],
        "too much data": [ihdr, chunk(b"IDAT", zlib.compress(rows + b"\0")), iend],
        "data after stream": [ihdr, chunk(b"IDAT", zlib.compress(rows) + b"\0"), iend],
        "bad Adler-32": [ihdr, chunk(b"IDAT", zlib.compress(rows)[:-1] + b"\0"), iend],
        "PLTE in grey": [ihdr, chunk(b"PLTE", bytes(3)), idat, iend],
        "empty gAMA": [ihdr, chunk(b"gAMA", b""), idat, iend],
        "IEND not empty": [ihdr, idat, chunk(b"IEND", b"x")],
    }
    for name, parts in cases.items():
        with pytest.raises(PNGError):
            decode(_rebuild(parts))
            pytest.fail(name)
    palette_ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 3, 0, 0, 0))
    with pytest.raises(PNGError, match="PLTE"):
        decode(_rebuild([palette_ihdr, idat, iend]))


def test_header_errors() -> None:
    good = make_png(0, 8, 2, 2)
    assert read_info(good).mode == "L"
    bad_ihdr = [struct.pack(">IIBBBBB", 0, 2, 8, 0, 0, 0, 0), struct.pack(">IIBBBBB", 2, 2, 3, 0, 0, 0, 0),
                struct.pack(">IIBBBBB", 2, 2, 8, 1, 0, 0, 0), struct.pack(">IIBBBBB", 2, 2, 16, 3, 0, 0, 0),
                struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 2), struct.pack(">IIBBBBB", 2**31, 2, 8, 0, 0, 0, 0)]
    for body in bad_ihdr:
        data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", body) + good[33:]
        with pytest.raises(PNGError):
            read_info(data)
        with pytest.raises(PNGError):
            decode(data)
    for data in (b"", b"\x89PNG", b"GIF89a" + good[6:], good[:20], good[:29] + b"\0\0\0\0" + good[33:]):
        with pytest.raises(PNGError):
            read_info(data)


# -- the pure-Python path -----------------------------------------------------------------------------

_NO_JIT_SCRIPT = """
import sys, numpy as np
from pathlib import Path
from kernels._jit import JIT_ENABLED
assert not JIT_ENABLED
sys.path.insert(0, sys.argv[1])
import test_png as t
from kernels.png import decode
n = 0
for ct, bd in t.COMBOS:
    for interlace in (False, True):
        data = t.make_png(ct, bd, 11, 7, interlace=interlace, seed=ct * 100 + bd)
        np.testing.assert_array_equal(decode(data), t._pillow(data)); n += 1
data = t.cad_png(40)
np.testing.assert_array_equal(decode(data), t._pillow(data)); n += 1
for p in sorted(Path(sys.argv[2]).glob("*.png")):
    ref = t._pillow(p.read_bytes())
    np.testing.assert_array_equal(decode(p.read_bytes()), ref); n += 1
print(n)
"""


def test_pure_python_path_matches() -> None:
    env = {**os.environ, "HARNESS_NO_JIT": "1"}
    suite = CORPUS / "pngsuite"  # 32x32 images: quick without the JIT
    proc = subprocess.run([sys.executable, "-c", _NO_JIT_SCRIPT, str(Path(__file__).parent), str(suite)],
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) >= 31
