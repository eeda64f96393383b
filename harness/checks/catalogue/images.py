"""Image checks: judge one measured ``IMAGES`` row (never pixels, never files).

Severities follow TinyLLaVA's loader: a file it cannot open stops training (error); a damaged PNG trains
silently because it sets LOAD_TRUNCATED_IMAGES (error); what Pillow converts on load is info, or a warning
when the conversion loses something (alpha).
"""
from __future__ import annotations

from collections.abc import Iterable

from harness.checks.findings import Finding
from harness.checks.registry import CheckSpec, register

# Modes convert("RGB") turns into RGB without loss worth a word, and those whose alpha it drops.
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


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
          description="a colour mode other than RGB: converted on load (warning when alpha is dropped)",
          alpha_modes=list(_ALPHA_MODES))
def mode_converted(row, ctx) -> Iterable[Finding]:
    mode = row.get("mode")
    if mode is None or mode == "RGB":
        return
    if mode in _ALPHA_MODES:
        yield mode_converted.on_image(
            row, f"mode {mode}: convert('RGB') drops alpha, transparent areas show their hidden colour",
            severity="warning")
    else:
        yield mode_converted.on_image(row, f"mode {mode}: converted to RGB on load")


@register("image.sixteen_bit", kind="image", severity="info",
          description="16 bits per sample: reduced to 8 on load")
def sixteen_bit(row, ctx) -> Iterable[Finding]:
    if row.get("bit_depth") == 16:
        yield sixteen_bit.on_image(row, "16-bit samples, reduced to 8 bits on load")


@register("image.interlaced", kind="image", severity="info",
          description="an interlaced (Adam7) or progressive image: loads the same, decodes slower")
def interlaced(row, ctx) -> Iterable[Finding]:
    if row.get("interlaced"):
        yield interlaced.on_image(row, "interlaced: loads the same, decodes slower")
