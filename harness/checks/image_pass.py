"""The image pass: one image file -> one ``IMAGES`` row. Bytes are read once; nothing raises.

A chunk of the pass (``measure_images_chunk``) comes back as one columnar ``IMAGES`` record batch, not
a list of dicts: a few hundred bytes a row in the driver instead of ~2 KB of Python objects.

PNG goes through the strict kernel decoder (``kernels.png``): the header is read first and the pixel limit
enforced before any pixel is allocated. Other formats go through Pillow, with the same limit checked on
the header size before ``load``. Every failure becomes ``decode_ok=False`` with a message and a class
(``decode_problem``) the image checks judge. Module-level functions only, so Ray can pickle them.

What ``convert("RGB")`` hides is measured through Pillow, and only where it can matter: alpha (modes with
an alpha band, or a tRNS chunk), 16/32-bit grey values it clips, and the EXIF orientation (the
``alpha_min``, ``transparent_fraction``, ``clipped_fraction`` and ``exif_orientation`` columns). A clean RGB
PNG without tRNS or eXIf is decoded once, by the kernel, and leaves those columns null.

JPEG at validation speed: a large JPEG is decoded at a reduced DCT scale (Pillow's draft mode: libjpeg
scales inside the inverse DCT, 1/2, 1/4 or 1/8), the smallest that keeps the short side at least
``DRAFT_FLOOR_PX``, the vision tower's input size: the model never sees more detail than that, so the
measures keep what training sees. What stays exact, and why:

- errors: draft mode still entropy-decodes every scan to the last byte (the coefficients of each block
  must be read to find the next), so truncation and corrupt data fail exactly as a full decode does;
- ``width_px``, ``height_px``, ``mode`` and ``decoded_bytes`` come from the header: the full-size truth;
- ``pixel_hash`` hashes the scaled pixels with the scale (``kernels.measure.pixel_hash``): identical files,
  or files differing only in metadata (the same coefficients), share a key as before; another encode of
  the same picture had other full-size pixels and has other scaled ones (a re-encode changes the
  low-frequency coefficients too). Only files differing in nothing but the high frequencies the scale
  drops would now share a key: pixel-identical at the detail the model is given;
- brightness, contrast, entropy, colourfulness and phash move by little (the DC term, a block's mean, is
  kept exactly; tolerances measured in ``tests/checks/test_jpeg_draft.py``);
- ``blur_laplacian_var`` depends on scale: it is taken at the decode scale, recorded in ``measure_scale``.
  With the floor, every large JPEG is measured with its short side in [384, 768), within 2x of the
  tower's input, where its native size could be 8x off; ``dataset.blurry`` judges against the dataset's
  own median (log scale), so images measured at like scales compare as the model sees them.
  A COCO-sized photo (short side under 768) is decoded at full size: unchanged.
"""
from __future__ import annotations

import io
import itertools
import struct
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from harness.results.schema import IMAGES
from kernels import measure as kmeasure
from kernels import png as kpng

# decode_problem values: what went wrong, judged by harness.checks.catalogue.images.
PROBLEMS = ("missing", "unsafe_path", "unreadable", "not_an_image", "pixel_limit", "truncated", "crc",
            "trailing_data", "undecodable", "worker_failed")

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
          (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def sniff_format(data: bytes) -> str | None:
    """The format the magic bytes announce (the file name's extension is not trusted)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def _png_problem(message: str) -> str:
    """Class of a kernels.png error from its message (the decoder words each failure consistently)."""
    m = message.lower()
    if "exceeds the limit" in m:
        return "pixel_limit"
    if m.startswith("trailing data:"):
        return "trailing_data"
    if "crc mismatch" in m:
        return "crc"
    if "truncated" in m or "too little image data" in m or "corrupt image data" in m:
        return "truncated"
    if m.startswith("not a png"):
        return "not_an_image"
    return "undecodable"


def _png_chunks(data: bytes):
    """(chunk type, offset just past the chunk) for each chunk, walking lengths only (no CRC, no body)."""
    pos = 8
    while pos + 12 <= len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        pos += 12 + length
        yield ctype, pos


def _png_end(data: bytes) -> int | None:
    """Offset just past the IEND chunk; None if the walk runs off the end."""
    for ctype, end in _png_chunks(data):
        if ctype == b"IEND":
            return end if end <= len(data) else None
    return None


# Modes whose alpha convert("RGB") drops, and greyscale modes wider than 8 bits, whose values it clips
# to 0..255 (v, not v/257): for these the image pass asks Pillow what the kernel's RGB cannot tell.
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_PNG_FACT_CHUNKS = (b"tRNS", b"eXIf")


def _png_fact_chunks(data: bytes) -> set[bytes]:
    """Which of tRNS / eXIf appear before the first IDAT (where Pillow reads them on open)."""
    before_idat = itertools.takewhile(lambda c: c[0] != b"IDAT", _png_chunks(data))
    return {ctype for ctype, _ in before_idat if ctype in _PNG_FACT_CHUNKS}


def _alpha(im, bit_depth: int | None) -> np.ndarray:
    """Alpha as uint8: the mode's own band, or what a tRNS key means. Pillow's ``convert("RGBA")`` is right
    for palette and 8/16-bit RGB keys but compares a grey key with the wrong scale (a 16-bit key against
    clipped values, a 1/2/4-bit key against values expanded to 0..255), so grey keys are compared here."""
    if im.mode in ALPHA_MODES:
        return np.asarray(im.getchannel("A"))
    key = im.info["transparency"]
    if isinstance(key, int) and im.mode in ("L",) + WIDE_GREY_MODES:
        if im.mode == "L" and bit_depth in (1, 2, 4):
            key *= 255 // (2 ** bit_depth - 1)
        return np.where(np.asarray(im) == key, 0, 255).astype(np.uint8)
    return np.asarray(im.convert("RGBA").getchannel("A"))


def _pixel_facts(im, row: dict) -> None:
    """What ``convert("RGB")`` hides, from an open Pillow image: alpha (the mode's or a tRNS key),
    16/32-bit grey values above 255 (clipped), and the EXIF orientation (never applied by TinyLLaVA).
    Each fact is best effort: a failure leaves its columns null."""
    try:
        if im.mode in ALPHA_MODES or "transparency" in im.info:
            alpha = _alpha(im, row.get("bit_depth"))
            row.update(alpha_min=int(alpha.min()),
                       transparent_fraction=float(np.count_nonzero(alpha < 255)) / alpha.size)
        if im.mode in WIDE_GREY_MODES:
            values = np.asarray(im)
            row["clipped_fraction"] = float(np.count_nonzero(values > 255)) / values.size
    except Exception:  # noqa: BLE001  a fact we cannot measure stays null; the decode verdict stands
        pass
    try:
        orientation = im.getexif().get(0x0112)
        if orientation is not None:
            row["exif_orientation"] = int(orientation)
    except Exception:  # noqa: BLE001
        pass


def _png_facts(data: bytes, row: dict) -> None:
    """Pillow's view of a PNG the kernel decoded, only when its mode or chunks say it can matter."""
    chunks = _png_fact_chunks(data)
    if row.get("mode") not in ALPHA_MODES + WIDE_GREY_MODES and not chunks:
        return
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            _pixel_facts(im, row)
    except Exception:  # noqa: BLE001  Pillow refusing what the kernel read: the facts stay null
        pass


def _decode_png(data: bytes, row: dict, max_pixels: int) -> np.ndarray | None:
    info = kpng.read_info(data)
    row.update(width_px=info.width, height_px=info.height, mode=info.mode, bit_depth=info.bit_depth,
               interlaced=info.interlaced, decode_path="kernel")
    # Refused on the header's word, before the decoder allocates anything.
    if info.width * info.height > max_pixels:
        raise kpng.PNGError(f"image of {info.width}x{info.height} pixels exceeds the limit of {max_pixels}")
    try:
        return kpng.decode(data, max_pixels=max_pixels)
    except kpng.PNGError as e:
        end = _png_end(data)
        if _png_problem(str(e)) != "trailing_data" or end is None:
            raise
        # Pillow (and so TinyLLaVA) stops at IEND: measure the image it would train on, keep the note.
        rgb = kpng.decode(data[:end], max_pixels=max_pixels)
        row.update(decode_error=str(e), decode_problem="trailing_data")
        return rgb


def _pillow_problem(exc: Exception) -> str:
    m = str(exc).lower()
    if "truncated" in m:
        return "truncated"
    if "cannot identify" in m:
        return "not_an_image"
    return "undecodable"


# Short side a draft-decoded JPEG keeps: SigLIP's 384 (CLIP's 336 below it), the largest input of the
# towers TinyLLaVA trains; a COCO photo (640x480) stays at full size, a phone photo (4032x3024) drops to 1/4.
DRAFT_FLOOR_PX = 384
DCT_SCALES = (8, 4, 2)   # what libjpeg's scaled IDCT offers below 1/1 (Pillow's draft)


def draft_scale(width: int, height: int, floor: int | None = None) -> int:
    """The largest DCT scale denominator (8, 4, 2, else 1) that keeps the short side >= ``floor``
    (default: the module's ``DRAFT_FLOOR_PX``, read at each call)."""
    floor = DRAFT_FLOOR_PX if floor is None else floor
    for s in DCT_SCALES:
        if min(width, height) // s >= floor:
            return s
    return 1


def _draft(im, w: int, h: int) -> int:
    """Ask Pillow for the DCT scale ``draft_scale`` picks; the scale Pillow set (1 when it declined)."""
    s = draft_scale(w, h)
    if s == 1 or im.format not in ("JPEG", "MPO"):
        return 1
    im.draft(None, (w // s, h // s))   # mode None: the header's mode is kept, only the size scales
    return round(w / im.size[0])       # Pillow's size is ceil(w / s); unchanged (1) if it declined


def _decode_pillow(data: bytes, row: dict, max_pixels: int) -> tuple[np.ndarray, int]:
    """(RGB pixels, DCT scale denominator they were decoded at: 1 except for a large JPEG)."""
    from PIL import Image  # only for formats other than PNG

    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        row.update(width_px=w, height_px=h, mode=im.mode, decode_path="pillow",
                   bit_depth=16 if im.mode.startswith("I;16") else (1 if im.mode == "1" else 8),
                   interlaced=bool(im.info.get("progressive") or im.info.get("interlace")))
        # Image.MAX_IMAGE_PIXELS semantics, without touching Pillow's global: refused before load.
        if w * h > max_pixels:
            raise _Refused("pixel_limit", f"image of {w}x{h} pixels exceeds the limit of {max_pixels}")
        scale = _draft(im, w, h)
        im.load()
        _pixel_facts(im, row)
        # An RGB image is read as it is: convert("RGB") would only copy it.
        return np.asarray(im if im.mode == "RGB" else im.convert("RGB")), scale


class _Refused(Exception):
    def __init__(self, problem: str, message: str):
        super().__init__(message)
        self.problem = problem


def _measure_pixels(rgb: np.ndarray, row: dict, scale: int = 1) -> None:
    stats, phash = kmeasure.measure(rgb)
    # decoded_bytes: what the full image holds decoded (the header's size), whatever scale it was measured at.
    row.update(decoded_bytes=int(row["width_px"]) * int(row["height_px"]) * 3, measure_scale=scale,
               pixel_hash=kmeasure.pixel_hash(rgb, scale=scale),
               phash=int(phash), brightness_mean=float(stats[0]), contrast_std=float(stats[1]),
               entropy_bits=float(stats[2]), blur_laplacian_var=float(stats[3]), colorfulness=float(stats[4]))


def measure_image(root: str, image: str, *, max_pixels: int) -> dict:
    """One ``IMAGES`` row for ``image`` (relative to ``root``); ``split``/``referenced``/``node`` are left
    for the caller. Never raises for a bad file: the row says what is wrong."""
    from harness.data.layout import UnsafePath, safe_image_path

    t0 = time.perf_counter()
    row: dict = {"image": image, "exists": False, "decode_ok": False}
    try:
        path = safe_image_path(Path(root), image)
    except UnsafePath as e:
        row.update(decode_error=f"unsafe path: {e}", decode_problem="unsafe_path", exists=None)
        return _done(row, t0)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        row.update(decode_error="file not found", decode_problem="missing")
        return _done(row, t0)
    except OSError as e:  # a folder, a dangling link, no permission
        row.update(exists=path.exists(), decode_error=f"cannot read: {e}", decode_problem="unreadable")
        return _done(row, t0)
    row.update(exists=True, file_bytes=len(data), format=sniff_format(data))
    try:
        if row["format"] is None:
            raise _Refused("not_an_image", "not an image: unknown magic bytes")
        scale = 1
        if row["format"] == "PNG":
            rgb = _decode_png(data, row, max_pixels)
            _png_facts(data, row)
        else:
            rgb, scale = _decode_pillow(data, row, max_pixels)
        _measure_pixels(rgb, row, scale)
        row["decode_ok"] = True
    except kpng.PNGError as e:
        row.update(decode_error=str(e), decode_problem=_png_problem(str(e)))
    except _Refused as e:
        row.update(decode_error=str(e), decode_problem=e.problem)
    except Exception as e:  # noqa: BLE001  Pillow raises many types for damaged files; all are data here
        problem = _pillow_problem(e)
        msg = "not an image: Pillow cannot identify it" if problem == "not_an_image" else f"{type(e).__name__}: {e}"
        row.update(decode_error=msg, decode_problem=problem)
    return _done(row, t0)


def _done(row: dict, t0: float) -> dict:
    row["measure_seconds"] = time.perf_counter() - t0
    return row


def measure_images(root: str, images, *, max_pixels: int) -> list[dict]:
    """Rows for many images, in order (one chunk of the image pass)."""
    return [measure_image(root, im, max_pixels=max_pixels) for im in images]


def rows_to_batch(rows: list[dict]) -> pa.RecordBatch:
    """Rows of ``measure_image`` as one ``IMAGES`` batch (keys a row lacks are null)."""
    return pa.RecordBatch.from_pylist(rows, schema=IMAGES)


def measure_images_chunk(root: str, max_pixels: int, images) -> pa.RecordBatch:
    """One chunk of the image pass as an ``IMAGES`` batch, rows in the order of ``images``; positional
    arguments, for ``functools.partial`` over chunks."""
    return rows_to_batch(measure_images(root, images, max_pixels=max_pixels))
