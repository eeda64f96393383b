"""Pixels as the model sees them: images made with Pillow, run through the image pass, judged by the image
checks. TinyLLaVA opens each image with ``Image.open(path).convert("RGB")`` (no ``exif_transpose``) and
hands it to a transformers image processor, which infers the channel axis from the array's shape."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.image_pass import measure_image, measure_images_chunk
from harness.checks.registry import checks, get
from harness.checks.runner import CheckContext
from harness.config import CheckConfig
from harness.results.schema import IMAGES
from tests.support.datasets import jpeg_bytes, png_bytes, render_cad

CTX = CheckContext(cfg=CheckConfig(), root=None)
LIMIT = 178_956_970
PNGSUITE = "/work/shared/png-conformance/pngsuite"


def judge(row) -> dict[str, str]:
    """check id -> severity of every finding on one measured row."""
    found = [f for spec in checks("image") for f in spec.fn(row | {"split": "train"}, CTX)]
    assert len({f.check for f in found}) == len(found)
    return {f.check: f.severity for f in found}


def measure(tmp_path, name: str, data: bytes) -> dict:
    (tmp_path / name).write_bytes(data)
    row = measure_image(str(tmp_path), name, max_pixels=LIMIT)
    assert row["decode_ok"], row.get("decode_error")
    return row


def render_rgba(background_alpha: int) -> Image.Image:
    """A Blender/pyrender-style RGBA render: the object opaque, the background black at ``background_alpha``."""
    rgb = np.asarray(render_cad(1, size=(64, 64)))
    alpha = np.where(rgb.min(axis=2) == 255, background_alpha, 255).astype(np.uint8)
    colour = np.where(alpha[..., None] == 255, rgb, 0).astype(np.uint8)
    return Image.fromarray(np.dstack([colour, alpha]), "RGBA")


def test_rgba_render_with_transparent_background_is_an_error_naming_the_fix(tmp_path):
    """rgba.png: a 64x64 RGBA render, background black under alpha 0. Error (image.transparency):
    convert('RGB') drops alpha, so the model sees a black background where the render means none."""
    row = measure(tmp_path, "rgba.png", png_bytes(render_rgba(0)))
    assert row["mode"] == "RGBA" and row["alpha_min"] == 0 and 0.5 < row["transparent_fraction"] < 1
    assert judge(row) == {"image.transparency": "error"}
    finding = next(iter(get("image.transparency").fn(row, CTX)))
    assert "composite on white" in finding.message and "Image.alpha_composite" in finding.message
    # What TinyLLaVA trains on: the black stored under the alpha, not a white background.
    with Image.open(tmp_path / "rgba.png") as im:
        assert np.asarray(im.convert("RGB"))[0, 0].tolist() == [0, 0, 0]


def test_fully_opaque_rgba_is_info_only(tmp_path):
    """opaque.png: RGBA whose alpha is 255 everywhere. Info (image.mode_converted) only: convert('RGB')
    drops an alpha band that changes nothing."""
    row = measure(tmp_path, "opaque.png", png_bytes(render_rgba(255)))
    assert row["alpha_min"] == 255 and row["transparent_fraction"] == 0.0
    assert judge(row) == {"image.mode_converted": "info"}


def test_palette_with_trns_is_an_error(tmp_path):
    """pal.png: a P image whose palette entry 0 is transparent (tRNS) and fills the background. Error:
    convert('RGB') ignores tRNS and shows the palette colour stored under it."""
    im = Image.new("P", (32, 32), 0)
    im.putpalette([0, 0, 0, 200, 200, 200] + [0] * 762)
    im.paste(1, (8, 8, 24, 24))
    row = measure(tmp_path, "pal.png", png_bytes(im, transparency=0))
    assert row["mode"] == "P" and row["alpha_min"] == 0 and row["transparent_fraction"] == 0.75
    assert judge(row) == {"image.mode_converted": "info", "image.transparency": "error"}


def test_rgb_with_an_unused_trns_key_is_fine(tmp_path):
    """key.png: an RGB render with a tRNS key (red) no pixel has. Nothing: every pixel is opaque."""
    row = measure(tmp_path, "key.png", png_bytes(render_cad(1, size=(64, 64)), transparency=(255, 0, 0)))
    assert row["mode"] == "RGB" and row["alpha_min"] == 255
    assert judge(row) == {}


def test_la_with_transparency_is_an_error(tmp_path):
    """la.png: greyscale+alpha, left half transparent. Error, as for RGBA."""
    a = np.full((20, 40, 2), 128, np.uint8)
    a[:, :20, 1] = 0
    a[:, 20:, 1] = 255
    row = measure(tmp_path, "la.png", png_bytes(Image.fromarray(a, "LA")))
    assert row["mode"] == "LA" and row["alpha_min"] == 0 and row["transparent_fraction"] == 0.5
    assert judge(row) == {"image.transparency": "error"}


def test_sixteen_bit_greyscale_is_clipped_to_white(tmp_path):
    """grey16.png: 16-bit greyscale (Image.fromarray of a uint16 ramp, mode I;16). Error
    (image.sixteen_bit_clipped): Pillow's convert('RGB') clips values above 255 (min(v, 255), not v/257),
    so a mid-grey 16-bit picture trains as white."""
    a = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    row = measure(tmp_path, "grey16.png", png_bytes(Image.fromarray(a)))
    assert row["mode"] == "I;16" and row["bit_depth"] == 16
    assert row["clipped_fraction"] == pytest.approx(63 / 64)
    assert row["brightness_mean"] > 250            # what the model sees: near-white
    assert judge(row) == {"image.mode_converted": "info", "image.sixteen_bit_clipped": "error"}


@pytest.mark.parametrize("name,verdict", [
    ("basn0g16.png", {"image.mode_converted": "info", "image.sixteen_bit_clipped": "error"}),
    ("basn2c16.png", {"image.sixteen_bit": "info"}),
    ("basn4a16.png", {"image.sixteen_bit": "info", "image.transparency": "error"}),
    ("basn6a16.png", {"image.sixteen_bit": "info", "image.transparency": "error"}),
])
def test_pngsuite_sixteen_bit_files_judged_by_what_pillow_does(name, verdict):
    """PngSuite's 16-bit files: grey (I;16) clips to white in Pillow, so an error; 16-bit RGB and the alpha
    files are reduced correctly (v >> 8) when Pillow opens them, so only info, plus the transparency error
    of their alpha."""
    path = f"{PNGSUITE}/{name}"
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
        raw = np.asarray(im)
    clipped = raw.dtype == np.uint16 and bool((raw > 255).any())
    assert clipped == (name == "basn0g16.png")     # Pillow's own behaviour, checked, not assumed
    assert rgb.dtype == np.uint8
    row = measure_image(PNGSUITE, name, max_pixels=LIMIT)
    assert judge(row) == verdict


@pytest.mark.parametrize("size,verdict", [
    ((40, 1), {"image.channel_axis": "error", "image.tiny": "warning", "image.extreme_aspect": "warning"}),
    ((40, 3), {"image.channel_axis": "error", "image.tiny": "warning", "image.extreme_aspect": "warning"}),
    ((3, 40), {"image.tiny": "warning", "image.extreme_aspect": "warning"}),
    ((10, 10), {"image.tiny": "warning"}),
    ((1000, 50), {"image.extreme_aspect": "warning"}),
    ((500, 50), {}),
])
def test_sizes_the_image_processor_misreads(tmp_path, size, verdict):
    """WxH RGB PNGs. Height 1 or 3: the processor's array is (H, W, 3) and transformers'
    infer_channel_dimension_format takes a first axis in (1, 3) for channels (error). Width 3 is read
    correctly (the first axis is 40). Under 16 px a side: warning (upscaled blur); beyond 10:1: warning
    (squashed into a square); 500x50 (exactly 10:1) passes."""
    row = measure(tmp_path, "s.png", png_bytes(Image.new("RGB", size, (90, 120, 150))))
    assert judge(row) == verdict


def test_channel_axis_message_has_the_arithmetic(tmp_path):
    """40x3: the message gives the array shape and the channels-first reading."""
    row = measure(tmp_path, "s.png", png_bytes(Image.new("RGB", (40, 3))))
    message = next(iter(get("image.channel_axis").fn(row, CTX))).message
    assert "(3, 40, 3)" in message and "channels-first" in message


def test_thresholds_are_parameters_of_the_checks():
    assert get("image.tiny").params == {"min_side_px": 16}
    assert get("image.extreme_aspect").params == {"max_aspect_ratio": 10.0}
    assert get("image.channel_axis").params == {"channel_sizes": [1, 3]}


def test_jpeg_with_exif_orientation_is_a_warning(tmp_path):
    """rot.jpg: a JPEG whose EXIF Orientation is 6 (viewers rotate it 90 degrees). Warning: TinyLLaVA does
    not apply ImageOps.exif_transpose, so the model sees the stored pixels, sideways."""
    exif = Image.Exif()
    exif[0x0112] = 6
    row = measure(tmp_path, "rot.jpg", jpeg_bytes(render_cad(1, size=(64, 48)), exif=exif.tobytes()))
    assert row["format"] == "JPEG" and row["exif_orientation"] == 6
    assert judge(row) == {"image.exif_orientation": "warning"}
    with Image.open(io.BytesIO((tmp_path / "rot.jpg").read_bytes())) as im:
        assert im.convert("RGB").size == (64, 48)   # what TinyLLaVA trains on: not rotated


def test_upright_exif_is_fine(tmp_path):
    """up.jpg: EXIF Orientation 1. Nothing."""
    exif = Image.Exif()
    exif[0x0112] = 1
    row = measure(tmp_path, "up.jpg", jpeg_bytes(render_cad(1, size=(64, 48)), exif=exif.tobytes()))
    assert row["exif_orientation"] == 1 and judge(row) == {}


def test_clean_cad_render_raises_none_of_these(tmp_path):
    """clean.png: the project's own 512x512 RGB render. Nothing, and no Pillow facts measured (the columns
    stay null: no second decode for clean renders)."""
    row = measure(tmp_path, "clean.png", png_bytes(render_cad(3)))
    assert judge(row) == {}
    assert all(row.get(c) is None for c in ("alpha_min", "transparent_fraction", "clipped_fraction",
                                            "exif_orientation"))


def test_unmeasured_alpha_stays_a_warning():
    """A row with an alpha mode but no alpha measured (alpha_min null, e.g. Pillow refused the second look):
    the old warning, since the transparency cannot be ruled out."""
    row = {"image": "x.png", "mode": "RGBA", "decode_ok": True, "width_px": 64, "height_px": 64}
    assert judge(row) == {"image.mode_converted": "warning"}


def test_new_columns_fit_the_images_schema(tmp_path):
    """The facts are IMAGES columns with their declared types (the chunk batch builds)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    (tmp_path / "a.png").write_bytes(png_bytes(render_rgba(0)))
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(render_cad(1, size=(64, 48)), exif=exif.tobytes()))
    (tmp_path / "c.png").write_bytes(png_bytes(Image.fromarray(np.full((8, 8), 4000, np.uint16))))
    batch = measure_images_chunk(str(tmp_path), LIMIT, ["a.png", "b.jpg", "c.png"])
    assert batch.schema == IMAGES
    assert batch.column("alpha_min").to_pylist() == [0, None, None]
    assert batch.column("exif_orientation").to_pylist() == [None, 6, None]
    assert batch.column("clipped_fraction").to_pylist() == [None, None, 1.0]
