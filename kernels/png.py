"""Strict PNG decoder: bytes -> (H, W, 3) uint8, pixels identical to Pillow's ``convert("RGB")``.

The chunk walk, CRCs and limits run here in Python (a handful of chunks per file); inflating goes to
zlib-ng, which measured fastest among the bounded inflaters (benchmarks/bench_decode.py); filters,
sample expansion and Adam7 run in ``kernels.png_filters``. Strict means: every CRC checked, IHDR first,
PLTE before IDAT, IDAT chunks consecutive, IEND last with nothing after it, known fixed-size ancillary
chunks of the right size, unknown critical chunks refused, the zlib stream inflating to exactly the
expected size with nothing after it, and the pixel limit enforced before anything is allocated.
Any malformed input raises ``PNGError`` and nothing else.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from zlib_ng import zlib_ng

from kernels.png_filters import ADAM7, decode_generic, unfilter_rgb8

SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Pillow's mode for each (colour type, bit depth): PngImagePlugin._MODES in Pillow 13.
_MODES = {
    (0, 1): "1", (0, 2): "L", (0, 4): "L", (0, 8): "L", (0, 16): "I;16",
    (2, 8): "RGB", (2, 16): "RGB",
    (3, 1): "P", (3, 2): "P", (3, 4): "P", (3, 8): "P",
    (4, 8): "LA", (4, 16): "RGBA",
    (6, 8): "RGBA", (6, 16): "RGBA",
}
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

# Ancillary chunks whose length the spec fixes; a wrong one means a damaged file (Pillow refuses some).
_FIXED = {b"cHRM": 32, b"gAMA": 4, b"sRGB": 1, b"pHYs": 9, b"tIME": 7, b"oFFs": 9, b"cICP": 4}
_BKGD = {0: 2, 4: 2, 2: 6, 6: 6, 3: 1}
# Chunks the spec places before PLTE / IDAT.
_BEFORE_IDAT = {b"tRNS", b"bKGD", b"hIST", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"pHYs", b"cICP"}

# A deflate symbol is at least one bit and emits at most 258 bytes, with a length and a distance code
# per match: no zlib stream inflates to more than ~1032x its size. A header asking for more than that is
# refused before inflating or allocating.
_MAX_RATIO = 1032

_MAX_CHUNK = 0x7FFFFFFF


class PNGError(ValueError):
    """The bytes are not a PNG this decoder accepts; the message says why."""


@dataclass(frozen=True)
class PNGInfo:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool
    mode: str


def _header(data) -> PNGInfo:
    if len(data) < 8:
        raise PNGError("truncated: shorter than the PNG signature")
    if bytes(data[:8]) != SIGNATURE:
        raise PNGError("not a PNG: bad signature")
    if len(data) < 33:
        raise PNGError("truncated: IHDR incomplete")
    length, ctype = struct.unpack_from(">I4s", data, 8)
    if ctype != b"IHDR":
        raise PNGError("first chunk is not IHDR")
    if length != 13:
        raise PNGError(f"IHDR length {length}, expected 13")
    if zlib_ng.crc32(data[12:29]) != struct.unpack_from(">I", data, 29)[0]:
        raise PNGError("CRC mismatch in IHDR")
    w, h, bd, ct, comp, filt, il = struct.unpack_from(">IIBBBBB", data, 16)
    if not (0 < w <= _MAX_CHUNK and 0 < h <= _MAX_CHUNK):
        raise PNGError(f"invalid image size {w}x{h}")
    if (ct, bd) not in _MODES:
        raise PNGError(f"invalid colour type {ct} with bit depth {bd}")
    if comp != 0 or filt != 0 or il > 1:
        raise PNGError(f"invalid IHDR method fields (compression {comp}, filter {filt}, interlace {il})")
    return PNGInfo(w, h, bd, ct, bool(il), _MODES[ct, bd])


def read_info(data: bytes) -> PNGInfo:
    """Signature and IHDR only, validated (CRC, legal colour type / depth, nonzero size)."""
    try:
        return _header(memoryview(data).cast("B"))
    except (IndexError, struct.error) as exc:
        raise PNGError(f"unreadable PNG header: {exc!r}") from exc


def _raw_size(info: PNGInfo) -> int:
    """Exact length of the inflated image data: every (pass) scanline with its filter byte."""
    bits = info.bit_depth * _CHANNELS[info.color_type]
    if not info.interlaced:
        return info.height * (1 + (info.width * bits + 7) // 8)
    total = 0
    for x0, y0, dx, dy in ADAM7.tolist():
        pw = (info.width - x0 + dx - 1) // dx
        ph = (info.height - y0 + dy - 1) // dy
        if pw > 0 and ph > 0:
            total += ph * (1 + (pw * bits + 7) // 8)
    return total


def _chunks(data, info: PNGInfo):
    """Walk every chunk after IHDR; return (palette (256, 3) uint8 or None, compressed image data)."""
    pos, end = 33, len(data)
    palette = None
    entries = 0
    idat: list = []
    idat_done = False
    seen: set = set()
    while True:
        if pos + 8 > end:
            raise PNGError("truncated: missing IEND")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if length > _MAX_CHUNK:
            raise PNGError(f"chunk length {length} out of range")
        if not ctype.isalpha() or not ctype.isascii():
            raise PNGError(f"invalid chunk type {ctype!r}")
        body_end = pos + 8 + length
        if body_end + 4 > end:
            raise PNGError(f"truncated: {ctype.decode()} chunk runs past the end of the file")
        body = data[pos + 8 : body_end]
        if zlib_ng.crc32(data[pos + 4 : body_end]) != struct.unpack_from(">I", data, body_end)[0]:
            raise PNGError(f"CRC mismatch in {ctype.decode()} chunk")
        pos = body_end + 4
        if ctype == b"IDAT":
            if idat_done:
                raise PNGError("IDAT chunks are not consecutive")
            idat.append(body)
            continue
        if idat:
            idat_done = True
        if ctype == b"IEND":
            if length:
                raise PNGError("IEND chunk is not empty")
            if pos != end:
                raise PNGError(f"trailing data: {end - pos} bytes after IEND")
            break
        if ctype in _BEFORE_IDAT and idat:
            raise PNGError(f"{ctype.decode()} chunk after IDAT")
        if ctype == b"PLTE":
            if entries:
                raise PNGError("second PLTE chunk")
            palette = _palette(body, info, bool(idat), seen)
            entries = length // 3
        elif ctype == b"IHDR":
            raise PNGError("second IHDR chunk")
        elif ctype == b"tRNS":
            _check_trns(length, info, entries)
        elif ctype == b"bKGD" and length != _BKGD[info.color_type]:
            raise PNGError(f"bKGD chunk of {length} bytes")
        elif ctype in _FIXED and length != _FIXED[ctype]:
            raise PNGError(f"{ctype.decode()} chunk of {length} bytes, expected {_FIXED[ctype]}")
        elif ctype == b"iCCP" and (length < 3 or bytes(body).find(b"\0", 1, 80) < 0):
            raise PNGError("malformed iCCP chunk")
        elif ctype[0] < 0x61:  # uppercase first letter: critical
            raise PNGError(f"unknown critical chunk {ctype.decode()}")
        seen.add(bytes(ctype))
    if not idat:
        raise PNGError("no IDAT chunk")
    if info.color_type == 3 and palette is None:
        raise PNGError("palette image without PLTE")
    return palette, idat


def _palette(body, info: PNGInfo, after_idat: bool, seen: set) -> np.ndarray | None:
    if after_idat:
        raise PNGError("PLTE chunk after IDAT")
    if b"tRNS" in seen or b"bKGD" in seen or b"hIST" in seen:
        raise PNGError("PLTE chunk after tRNS/bKGD/hIST")
    if info.color_type in (0, 4):
        raise PNGError("PLTE chunk in a greyscale image")
    n = len(body)
    if n == 0 or n % 3 or n > 768:
        raise PNGError(f"PLTE chunk of {n} bytes")
    if info.color_type != 3:
        return None  # a suggested palette for truecolour images: valid, unused
    # Indices past the end of a short palette are black in Pillow, hence the zero padding.
    pal = np.zeros((256, 3), dtype=np.uint8)
    pal.reshape(-1)[:n] = np.frombuffer(body, dtype=np.uint8)
    return pal


def _check_trns(length: int, info: PNGInfo, entries: int) -> None:
    ct = info.color_type
    if ct in (4, 6):
        raise PNGError("tRNS chunk in an image with an alpha channel")
    if ct == 3:
        if not entries:
            raise PNGError("tRNS chunk before PLTE")
        if length > entries:
            raise PNGError(f"tRNS chunk of {length} bytes for {entries} palette entries")
    elif length != (2 if ct == 0 else 6):
        raise PNGError(f"tRNS chunk of {length} bytes")


def _inflate(idat: list, size: int) -> bytes:
    compressed = idat[0] if len(idat) == 1 else b"".join(idat)
    if size > _MAX_RATIO * len(compressed) + 1024:
        raise PNGError("truncated: too little image data for the declared size")
    d = zlib_ng.decompressobj()
    try:
        # One byte of slack so a stream that ends exactly at `size` reports eof.
        raw = d.decompress(compressed, size + 1)
    except zlib_ng.error as exc:
        raise PNGError(f"corrupt image data: {exc}") from exc
    if len(raw) > size or (not d.eof and len(raw) == size):
        raise PNGError("too much image data")
    if not d.eof:
        raise PNGError("truncated: image data stream ends early")
    if len(raw) < size:
        raise PNGError(f"too little image data: {len(raw)} of {size} bytes")
    if d.unused_data:
        raise PNGError("trailing data after the image data stream")
    return raw


def _decode(data, max_pixels: int, out: np.ndarray | None, alloc=None) -> np.ndarray:
    mv = memoryview(data).cast("B")
    info = _header(mv)
    h, w = info.height, info.width
    if w * h > max_pixels:
        raise PNGError(f"image of {w}x{h} pixels exceeds the limit of {max_pixels}")
    if alloc is not None:
        out = alloc((h, w, 3))
    if out is not None and (out.shape != (h, w, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous uint8 array of shape {(h, w, 3)}")
    palette, idat = _chunks(mv, info)
    raw = np.frombuffer(_inflate(idat, _raw_size(info)), dtype=np.uint8)
    if out is None:
        out = np.empty((h, w, 3), dtype=np.uint8)
    if info.color_type == 2 and info.bit_depth == 8 and not info.interlaced:
        bad = unfilter_rgb8(raw, out)
    else:
        pal = palette if palette is not None else np.zeros((256, 3), dtype=np.uint8)
        ch = _CHANNELS[info.color_type]
        bad = decode_generic(raw, info.color_type, info.bit_depth, ch, pal, info.interlaced, out)
    if bad >= 0:
        raise PNGError(f"invalid filter type on scanline {bad}")
    return out


def decode_reusing(data: bytes, alloc, *, max_pixels: int = 178_956_970) -> np.ndarray:
    """``decode_into`` a buffer ``alloc((h, w, 3))`` returns once the header is read (a per-thread
    scratch buffer, say): the header is parsed once, not once for the size and again to decode."""
    try:
        return _decode(data, max_pixels, None, alloc)
    except _MALFORMED as exc:
        raise PNGError(f"malformed PNG: {exc!r}") from exc


# What malformed bytes can provoke below the explicit checks; all become PNGError.
_MALFORMED = (struct.error, IndexError, KeyError, OverflowError, MemoryError)


def decode(data: bytes, *, max_pixels: int = 178_956_970) -> np.ndarray:
    """Decode a PNG to (H, W, 3) uint8 RGB, identical to Pillow's ``convert("RGB")``."""
    try:
        return _decode(data, max_pixels, None)
    except _MALFORMED as exc:
        raise PNGError(f"malformed PNG: {exc!r}") from exc


def decode_into(data: bytes, out: np.ndarray, *, max_pixels: int = 178_956_970) -> np.ndarray:
    """``decode`` into a preallocated C-contiguous uint8 (H, W, 3) buffer of the image's size (the
    Loader's reused buffers); a buffer of the wrong shape is a ValueError, not a PNGError."""
    try:
        return _decode(data, max_pixels, out)
    except _MALFORMED as exc:
        raise PNGError(f"malformed PNG: {exc!r}") from exc
