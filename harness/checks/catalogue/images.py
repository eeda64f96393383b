"""Image checks: judge one measured ``IMAGES`` row (never pixels, never files).

Severities follow TinyLLaVA's loader: a file it cannot open stops training (error); a damaged PNG trains
silently because it sets LOAD_TRUNCATED_IMAGES (error); what Pillow converts on load is info.

Pixels as the model sees them: TinyLLaVA runs ``Image.open(path).convert("RGB")`` and then the vision
tower's transformers image processor (no ``exif_transpose``, and with the default ``image_aspect_ratio``
"square" no padding first). So transparency ``convert("RGB")`` drops (the colour stored under alpha shows,
black for most renderers), 16-bit greyscale it clips (``min(v, 255)``, not ``v / 257``) and a height the
processor's ``infer_channel_dimension_format`` takes for a channel axis are errors (it trains on something
else); tiny images, extreme aspect ratios and an EXIF orientation it never applies are warnings.
"""
from __future__ import annotations

from collections.abc import Iterable

from harness.checks.findings import Finding
from harness.checks.image_pass import ALPHA_MODES as _ALPHA_MODES
from harness.checks.image_pass import WIDE_GREY_MODES as _WIDE_GREY_MODES
from harness.checks.registry import CheckSpec, register


def _register_problem(check: str, problem: str, severity: str, why: str, description: str) -> CheckSpec:
    """Register the check that reports one ``decode_problem`` of the image pass; returns its spec."""
    def fn(row, ctx) -> Iterable[Finding]:
        if row.get("decode_problem") == problem:
            yield spec.on_image(row, f"{row.get('decode_error')}: {why}")
    fn.__name__ = check.replace(".", "_")
    spec = register(check, kind="image", severity=severity, description=description, decode_problem=problem)(fn)
    return spec


missing = _register_problem(
    "image.missing", "missing", "error", "training stops (no try/except around the open)",
    "a referenced image file that does not exist")
unreadable = _register_problem(
    "image.unreadable", "unreadable", "error", "training stops",
    "an image path that exists but cannot be read (a folder, a dangling link, permissions)")
not_an_image = _register_problem(
    "image.not_an_image", "not_an_image", "error", "training stops (Pillow cannot identify it)",
    "a file that is not an image")
pixel_limit = _register_problem(
    "image.pixel_limit", "pixel_limit", "error",
    "refused before decoding; Pillow raises DecompressionBombError and training stops",
    "an image whose header declares more pixels than the limit (Pillow's decompression bomb)")
truncated = _register_problem(
    "image.truncated", "truncated", "error",
    "trains silently as a partly grey picture: TinyLLaVA sets LOAD_TRUNCATED_IMAGES",
    "a truncated PNG or image data stream")
crc_mismatch = _register_problem(
    "image.crc_mismatch", "crc", "error",
    "Pillow does not verify IDAT CRCs, so the damaged data trains silently as grey or garbage",
    "a PNG chunk whose CRC does not match (damaged bytes)")
undecodable = _register_problem(
    "image.undecodable", "undecodable", "error", "training stops or trains on garbage",
    "an image the strict decoder refuses for another reason")
# Trailing bytes after IEND: Pillow stops at IEND, so TinyLLaVA trains on the intact image; it is a
# warning, not an error, because nothing is lost — but it betrays a writer bug or an appended payload,
# and strict readers (ours included) refuse such files.
trailing_data = _register_problem(
    "image.trailing_data", "trailing_data", "warning",
    "Pillow ignores it and trains on the intact image; strict readers refuse the file",
    "bytes after the PNG's IEND chunk")
worker_failed = _register_problem(
    "image.worker_failed", "worker_failed", "error",
    "the worker measuring this image failed after its retries, so it is unchecked",
    "an image whose measuring chunk failed after every retry")


@register("image.mode_converted", kind="image", severity="info",
          description="a colour mode other than RGB: converted on load (a warning when alpha is dropped "
                      "unmeasured; measured transparency is image.transparency's error)",
          alpha_modes=list(_ALPHA_MODES))
def mode_converted(row, ctx) -> Iterable[Finding]:
    mode = row.get("mode")
    if mode is None or mode == "RGB":
        return
    if mode not in _ALPHA_MODES:
        yield mode_converted.on_image(row, f"mode {mode}: converted to RGB on load")
    elif row.get("alpha_min") is None:
        yield mode_converted.on_image(
            row, f"mode {mode}: convert('RGB') drops alpha, transparent areas (if any: unmeasured) show "
                 "their hidden colour", severity="warning")
    elif row["alpha_min"] == 255:
        yield mode_converted.on_image(row, f"mode {mode}: alpha fully opaque, convert('RGB') drops it unchanged")
    # alpha below 255: image.transparency reports the error


@register("image.transparency", kind="image", severity="error",
          description="pixels not fully opaque (alpha, or a tRNS key in P/L/RGB): convert('RGB') drops alpha "
                      "and the model sees the colour stored under it (black for most renderers)",
          opaque_alpha=255)
def transparency(row, ctx) -> Iterable[Finding]:
    alpha_min = row.get("alpha_min")
    if alpha_min is None or alpha_min >= transparency.params["opaque_alpha"]:
        return
    share = row.get("transparent_fraction") or 0.0
    key = "" if row.get("mode") in _ALPHA_MODES else " (tRNS transparency key)"
    yield transparency.on_image(
        row, f"mode {row.get('mode')}{key}: {share:.1%} of pixels not fully opaque (alpha down to {alpha_min}); "
             "TinyLLaVA's convert('RGB') drops alpha, so the model sees the colour stored under it (black for "
             "most renderers), not the background the image means. Fix: composite on white before saving, "
             "e.g. Image.alpha_composite(Image.new('RGBA', im.size, 'white'), im.convert('RGBA')).convert('RGB')")


@register("image.sixteen_bit", kind="image", severity="info",
          description="16 bits per sample: reduced to 8 on load (greyscale above 255: image.sixteen_bit_clipped)")
def sixteen_bit(row, ctx) -> Iterable[Finding]:
    if row.get("bit_depth") != 16 or (row.get("clipped_fraction") or 0.0) > 0:
        return
    if row.get("mode") in _WIDE_GREY_MODES:
        yield sixteen_bit.on_image(
            row, "16-bit greyscale with every value <= 255: convert('RGB') keeps the values as they are "
                 "(v, not v/257), so the picture trains as 8-bit data")
    else:
        yield sixteen_bit.on_image(row, "16-bit samples, reduced to 8 bits on load")


@register("image.sixteen_bit_clipped", kind="image", severity="error",
          description="16/32-bit greyscale (I;16, I, F) with values above 255: convert('RGB') clips them to "
                      "white instead of scaling",
          wide_grey_modes=list(_WIDE_GREY_MODES))
def sixteen_bit_clipped(row, ctx) -> Iterable[Finding]:
    share = row.get("clipped_fraction")
    if not share:
        return
    yield sixteen_bit_clipped.on_image(
        row, f"mode {row.get('mode')}: {share:.1%} of pixels above 255; Pillow's convert('RGB') clips "
             "16-bit greyscale values to 255 (min(v, 255), not v/257), so the model sees a near-white "
             "picture. Fix: scale to 8 bits before saving, e.g. (a >> 8).astype(np.uint8)")


@register("image.channel_axis", kind="image", severity="error",
          description="a height transformers' infer_channel_dimension_format takes for a channel axis: the "
                      "(H, W, 3) array is read as channels-first",
          channel_sizes=[1, 3])
def channel_axis(row, ctx) -> Iterable[Finding]:
    h, w = row.get("height_px"), row.get("width_px")
    sizes = channel_axis.params["channel_sizes"]
    if not row.get("decode_ok") or h is None or h not in sizes:
        return
    yield channel_axis.on_image(
        row, f"{w}x{h} image: the processor gets an array of shape ({h}, {w}, 3); transformers' "
             f"infer_channel_dimension_format tests the first axis first, and {h} is in {tuple(sizes)}, so it "
             f"reads it as channels-first: {h} channel(s) of a picture {w} tall and 3 wide, not 3 channels of "
             f"{w}x{h}. Training "
             "crashes or trains on a scrambled image. Fix: pad or resize so the height is not 1 or 3")


@register("image.tiny", kind="image", severity="warning",
          description="an image smaller than the threshold on a side: upscaled to the tower's size, it trains "
                      "on a blur", min_side_px=16)
def tiny(row, ctx) -> Iterable[Finding]:
    h, w = row.get("height_px"), row.get("width_px")
    limit = tiny.params["min_side_px"]
    if row.get("decode_ok") and h is not None and w is not None and min(h, w) < limit:
        yield tiny.on_image(row, f"{w}x{h} image, under {limit} px a side: the image processor upscales it "
                                 "to its input size, so it trains on a blur")


@register("image.extreme_aspect", kind="image", severity="warning",
          description="an aspect ratio beyond the threshold: resized to a square input, it is squashed",
          max_aspect_ratio=10.0)
def extreme_aspect(row, ctx) -> Iterable[Finding]:
    h, w = row.get("height_px"), row.get("width_px")
    limit = extreme_aspect.params["max_aspect_ratio"]
    if not row.get("decode_ok") or not h or not w:
        return
    ratio = max(w, h) / min(w, h)
    if ratio > limit:
        yield extreme_aspect.on_image(
            row, f"{w}x{h} image, aspect ratio {ratio:.1f}:1 (over {limit:g}:1): TinyLLaVA resizes it to a "
                 "square input without padding (image_aspect_ratio 'square'), squashing it")


@register("image.exif_orientation", kind="image", severity="warning",
          description="an EXIF Orientation other than 1: TinyLLaVA does not apply exif_transpose, so the model "
                      "sees the stored (rotated or mirrored) pixels", upright=1)
def exif_orientation(row, ctx) -> Iterable[Finding]:
    o = row.get("exif_orientation")
    if o is None or o == exif_orientation.params["upright"]:
        return
    yield exif_orientation.on_image(
        row, f"EXIF Orientation {o}: viewers rotate or mirror it, TinyLLaVA (no ImageOps.exif_transpose) does "
             "not, so the model sees the stored pixels while the text may describe the upright picture. Fix: "
             "ImageOps.exif_transpose(im) before saving and drop the tag")


@register("image.interlaced", kind="image", severity="info",
          description="an interlaced (Adam7) or progressive image: loads the same, decodes slower")
def interlaced(row, ctx) -> Iterable[Finding]:
    if row.get("interlaced"):
        yield interlaced.on_image(row, "interlaced: loads the same, decodes slower")
