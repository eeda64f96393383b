"""Large JPEGs measured in draft mode (DCT scaling): full-size facts from the header, the measures within a
stated tolerance of a full decode, and every decode failure exactly as a full decode gives it."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from harness.checks.image_pass import DRAFT_FLOOR_PX, draft_scale, measure_image, measure_images_chunk
from harness.results.schema import IMAGES
from kernels.measure import hamming, measure, pixel_hash

LIMIT = 178_956_970


def photo(seed: int, size: tuple[int, int]) -> Image.Image:
    """Photo-like content (a colour field, soft-edged shapes, texture, noise): what draft mode meets in real
    data; flat renders would hide the differences a reduced scale makes."""
    rng = np.random.default_rng(seed)
    w, h = size
    grid = rng.integers(40, 220, (4, 5, 3), dtype=np.uint8)
    im = Image.fromarray(grid).resize(size, Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(10):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        box = (x, y, x + int(rng.integers(20, w // 3)), y + int(rng.integers(20, h // 3)))
        (draw.ellipse if rng.integers(2) else draw.rectangle)(box, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    a = np.asarray(im.filter(ImageFilter.GaussianBlur(1.5)), np.float32)
    texture = np.asarray(Image.fromarray(rng.integers(0, 256, (h // 4, w // 4), np.uint8)).resize(size, Image.BICUBIC),
                         np.float32) - 128
    a = a + 0.15 * texture[:, :, None] + rng.normal(0, 4, (h, w, 1))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def jpeg(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", **{"quality": 90, **kw})
    return buf.getvalue()


def full_decode(data: bytes) -> np.ndarray:
    """What a full decode gives: Pillow at 1/1, as TinyLLaVA reads it."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def draft_decode(data: bytes, scale: int) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        im.draft(None, (im.size[0] // scale, im.size[1] // scale))
        return np.asarray(im.convert("RGB"))


def row_of(tmp_path, data: bytes, name: str = "x.jpg") -> dict:
    (tmp_path / name).write_bytes(data)
    return measure_image(str(tmp_path), name, max_pixels=LIMIT)


@pytest.mark.parametrize("size,scale", [
    ((640, 480), 1), ((640, 360), 1), ((612, 612), 1),      # COCO: full size
    ((767, 2000), 1), ((1280, 720), 1),                      # a short side under 2 x 384
    ((1280, 960), 2), ((1600, 1200), 2), ((4032, 3024), 4),  # 3024 / 8 = 378: under the floor
    ((6000, 4000), 8), ((100000, 3072), 8),
])
def test_draft_scale_is_the_smallest_that_keeps_the_short_side_at_the_floor(size, scale):
    assert DRAFT_FLOOR_PX == 384   # the tower's input (SigLIP): the model sees no more detail than this
    assert draft_scale(*size) == scale
    assert min(size) // scale >= DRAFT_FLOOR_PX or scale == 1


def test_coco_sized_jpeg_is_measured_at_full_size_exactly(tmp_path):
    data = jpeg(photo(1, (640, 480)))
    row = row_of(tmp_path, data)
    full = full_decode(data)
    stats, ph = measure(full)
    assert row["decode_ok"] and row["measure_scale"] == 1
    assert row["pixel_hash"] == pixel_hash(full) and row["phash"] == int(ph)
    assert [row[k] for k in ("brightness_mean", "contrast_std", "entropy_bits", "blur_laplacian_var",
                             "colorfulness")] == list(stats)


@pytest.mark.parametrize("size,scale", [((1280, 960), 2), ((960, 1280), 2), ((2048, 1536), 4)])
def test_large_jpeg_keeps_full_size_facts_and_its_measures_stay_near_a_full_decode(tmp_path, size, scale):
    data = jpeg(photo(sum(size), size))
    row = row_of(tmp_path, data)
    w, h = size
    # The header's truth, whatever scale the pixels were measured at.
    assert row["decode_ok"] and row["format"] == "JPEG" and row["mode"] == "RGB" and row["decode_path"] == "pillow"
    assert (row["width_px"], row["height_px"], row["decoded_bytes"]) == (w, h, w * h * 3)
    assert row["measure_scale"] == scale
    # The measures are those of the draft decode...
    small = draft_decode(data, scale)
    assert small.shape == (-(-h // scale), -(-w // scale), 3)
    stats, ph = measure(small)
    assert row["blur_laplacian_var"] == stats[3] and row["phash"] == int(ph)
    assert row["pixel_hash"] == pixel_hash(small, scale=scale)
    # ...and within these of a full decode. Measured on photo-like JPEGs (benchmarks/bench_jpeg.py's photos,
    # 24 images at 2x and 4x COCO sizes): brightness <= 0.03 levels, contrast <= 0.55, entropy <= 0.04 bits,
    # colourfulness <= 0.13, phash <= 2 bits (phash_distance is 4); the bounds here leave room over that.
    fstats, fph = measure(full_decode(data))
    assert abs(row["brightness_mean"] - fstats[0]) <= 0.25
    assert abs(row["contrast_std"] - fstats[1]) <= 1.5
    assert abs(row["entropy_bits"] - fstats[2]) <= 0.15
    assert abs(row["colorfulness"] - fstats[4]) <= 1.0
    assert hamming(row["phash"], fph) <= 3
    # Blur is a property of the scale (the Laplacian sees finer detail at full size): no tolerance is claimed,
    # it is measured at measure_scale (0.16x..3.9x of the full-size value on those photos).
    assert row["blur_laplacian_var"] > 0


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_draft_mode_keeps_the_headers_mode(tmp_path, mode):
    data = jpeg(photo(5, (1280, 960)).convert(mode))
    row = row_of(tmp_path, data)
    assert row["decode_ok"] and row["mode"] == mode and row["measure_scale"] == 2
    assert (row["width_px"], row["height_px"]) == (1280, 960)
    assert abs(row["brightness_mean"] - measure(full_decode(data))[0][0]) <= 0.25


@pytest.fixture(scope="module", params=[False, True], ids=["baseline", "progressive"])
def large_jpeg(request) -> bytes:
    return jpeg(photo(7, (1280, 960)), progressive=request.param)


def test_truncated_large_jpeg_is_still_truncated(tmp_path, large_jpeg):
    # Draft mode entropy-decodes every scan to the end: a file cut anywhere fails as at full size.
    assert draft_scale(1280, 960) == 2
    for cut in (0.1, 0.5, 0.9, 0.999):
        row = row_of(tmp_path, large_jpeg[: int(len(large_jpeg) * cut)])
        assert not row["decode_ok"] and row["decode_problem"] == "truncated", cut
        assert "truncated" in row["decode_error"] and row.get("pixel_hash") is None
        assert (row["width_px"], row["height_px"]) == (1280, 960)   # the header was whole
    for missing in (1, 2):   # only the end-of-image marker lost
        row = row_of(tmp_path, large_jpeg[:-missing])
        assert row["decode_problem"] == "truncated"


def _full_verdict(data: bytes) -> tuple[bool, bool]:
    """(decodes, fails as truncated) for Pillow's full-size decode."""
    try:
        full_decode(data)
        return True, False
    except Exception as e:  # noqa: BLE001  Pillow raises many types for damaged files
        return False, "truncated" in str(e).lower()


def test_corrupt_large_jpeg_gets_the_full_decodes_verdict(tmp_path, large_jpeg):
    # Damaged bytes anywhere (markers, tables, scan data): the verdict of a full decode, case by case.
    # (Corrupt scan data mostly decodes: libjpeg warns and goes on, at any scale, as Pillow does for training.)
    rng = np.random.default_rng(0)
    positions = [4, 20, 100, 300, 600] + [int(p) for p in rng.integers(600, len(large_jpeg) - 2, 25)]
    failed = 0
    for pos in positions:
        bad = bytearray(large_jpeg)
        bad[pos] ^= 0xA5
        decodes, truncated = _full_verdict(bytes(bad))
        row = row_of(tmp_path, bytes(bad))
        assert row["decode_ok"] == decodes, pos
        if not decodes:
            failed += 1
            assert (row["decode_problem"] == "truncated") == truncated, pos
    # a corrupt SOF / table, not just garbage pixels (the flip at 4 hits the JFIF APP0 length)
    assert failed >= 1


def test_pixel_hash_means_identical_files(tmp_path):
    im = photo(9, (1280, 960))
    data = jpeg(im)
    a, b = row_of(tmp_path, data, "a.jpg"), row_of(tmp_path, data, "b.jpg")
    assert a["pixel_hash"] == b["pixel_hash"]
    # The same coefficients with metadata added: pixel-identical at every scale, so one key.
    exif = Image.Exif()
    exif[0x010E] = "a description"
    tagged = row_of(tmp_path, jpeg(im, exif=exif.tobytes()), "c.jpg")
    assert tagged["pixel_hash"] == a["pixel_hash"]
    # Another encode of the same picture never had equal pixels at full size, nor here.
    assert row_of(tmp_path, jpeg(im, quality=91), "d.jpg")["pixel_hash"] != a["pixel_hash"]
    # A draft decode never shares a key with a full-size image of the same pixels.
    small = draft_decode(data, 2)
    assert a["pixel_hash"] == pixel_hash(small, scale=2) != pixel_hash(small)


def test_chunk_carries_the_scale(tmp_path):
    (tmp_path / "big.jpg").write_bytes(jpeg(photo(11, (1280, 960))))
    (tmp_path / "coco.jpg").write_bytes(jpeg(photo(12, (640, 480))))
    batch = measure_images_chunk(str(tmp_path), LIMIT, ["big.jpg", "coco.jpg", "gone.jpg"])
    assert batch.schema.equals(IMAGES)
    assert batch.column("measure_scale").to_pylist() == [2, 1, None]
    assert batch.column("width_px").to_pylist() == [1280, 640, None]
