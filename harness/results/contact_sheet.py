"""A contact sheet of the flagged images: one thumbnail per image with an error or warning finding, worst
first, each labelled with its record and check, as cleanvision's and fastdup's galleries show issues.

``flagged_images`` picks the tiles from the run's tables (a view of them, like every report);
``contact_sheet_png`` draws them with Pillow. Thumbnails show the picture as training sees it
(``convert("RGB")``: hidden colour under transparency, clipped 16-bit grey). A file the image pass could not
decode, or that is missing or outside the image folder, gets a grey placeholder tile saying why: it is
never opened again here (a forged header could ask for gigabytes).
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

FILE = "flagged_images.png"   # beside report.md
CAP = 48               # tiles drawn; the rest are counted in the report
TILE_PX = 160          # thumbnail box
LABEL_PX = 34          # two lines of text under it
PAD_PX = 6
COLUMNS = 8
_RANK = {"error": 0, "warning": 1}
_BORDER = {"error": (200, 30, 30), "warning": (230, 150, 20)}


@dataclass(frozen=True)
class Tile:
    image: str
    record: str                  # "split[index]" of the first flagged record showing it, else the image name
    checks: tuple[str, ...]      # worst first
    severity: str                # the worst
    problem: str | None          # why it cannot be shown (a placeholder), None when it can

    @property
    def check_label(self) -> str:
        more = len(self.checks) - 1
        return self.checks[0] + (f" +{more}" if more else "")


@dataclass(frozen=True)
class Gallery:
    tiles: list[Tile]            # drawn, worst first
    flagged: int                 # flagged images in all

    @property
    def left_off(self) -> int:
        return self.flagged - len(self.tiles)


def flagged_images(findings: pa.Table, images: pa.Table, records: pa.Table, *, cap: int = CAP,
                   pictures: Collection[str] | None = None) -> Gallery:
    """Images with an error or warning finding on them or on a record showing them, one tile each: errors
    before warnings, then more error findings first, then the findings' order. ``pictures``: the checks
    whose findings are about how an image looks (``CheckSpec.pictures``); None takes every check. A text
    finding (a long answer, a bad turn) says nothing a thumbnail could show."""
    rec_image = {(s, i): im for s, i, im in zip(records.column("split").to_pylist(),
                                                 records.column("record_index").to_pylist(),
                                                 records.column("image").to_pylist())}
    first_use: dict[str, str] = {}
    for (s, i), im in rec_image.items():
        if im is not None:
            first_use.setdefault(im, f"{s}[{i}]")
    seen: dict[str, dict] = {}
    cols = [findings.column(c).to_pylist() for c in ("severity", "check", "split", "record_index", "image")]
    for order, (sev, check, split, index, image) in enumerate(zip(*cols)):
        if sev not in _RANK or (pictures is not None and check not in pictures):
            continue
        label = f"{split}[{index}]" if index is not None else None
        image = image or rec_image.get((split, index))
        if image is None:   # a text-only record or a split-level finding: no picture to show
            continue
        g = seen.setdefault(image, {"order": order, "record": None, "checks": {}, "errors": 0})
        g["record"] = g["record"] or label
        g["checks"].setdefault(check, _RANK[sev])
        g["checks"][check] = min(g["checks"][check], _RANK[sev])
        g["errors"] += sev == "error"
    rows = {n: (ok, exists, err, prob) for n, ok, exists, err, prob in zip(
        *(images.column(c).to_pylist() for c in ("image", "decode_ok", "exists", "decode_error", "decode_problem")))}
    ranked = sorted(seen.items(), key=lambda kv: (min(kv[1]["checks"].values()), -kv[1]["errors"], kv[1]["order"]))
    tiles = []
    for name, g in ranked[:cap]:
        checks = tuple(sorted(g["checks"], key=lambda c: g["checks"][c]))   # stable: errors, then warnings
        tiles.append(Tile(image=name, record=g["record"] or first_use.get(name, name), checks=checks,
                          severity="error" if min(g["checks"].values()) == 0 else "warning",
                          problem=_problem(rows.get(name))))
    return Gallery(tiles=tiles, flagged=len(seen))


def _problem(row) -> str | None:
    if row is None:
        return "not read (path outside the image folder)"
    ok, exists, err, prob = row
    if ok or (ok is None and exists):   # decoded, or an orphan the pass listed without decoding: shown
        return None
    if exists is False:
        return "missing file"
    return err or (prob or "cannot decode").replace("_", " ")


def contact_sheet_png(gallery: Gallery, locate: Callable[[str], Path | None], *, max_pixels: int) -> bytes | None:
    """The tiles as one PNG; None when nothing was flagged. ``locate(name)`` gives the file of an image
    name, or None where it must not be opened (a path leaving the image folder)."""
    from PIL import Image, ImageDraw, ImageFont

    if not gallery.tiles:
        return None
    font = ImageFont.load_default(size=11)
    cell_w, cell_h = TILE_PX + 2 * PAD_PX, TILE_PX + LABEL_PX + 2 * PAD_PX
    cols = min(COLUMNS, len(gallery.tiles))
    rows = -(-len(gallery.tiles) // cols)
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, tile in enumerate(gallery.tiles):
        x, y = (k % cols) * cell_w + PAD_PX, (k // cols) * cell_h + PAD_PX
        thumb, problem = None, tile.problem
        if problem is None:
            path = locate(tile.image)
            thumb, problem = _thumbnail(path, max_pixels) if path is not None else (None, "not read (unsafe path)")
        draw.rectangle([x - 3, y - 3, x + TILE_PX + 2, y + TILE_PX + 2], outline=_BORDER[tile.severity], width=3)
        if thumb is not None:
            sheet.paste(thumb, (x + (TILE_PX - thumb.width) // 2, y + (TILE_PX - thumb.height) // 2))
        else:
            draw.rectangle([x, y, x + TILE_PX - 1, y + TILE_PX - 1], fill=(215, 215, 215))
            _centred(draw, font, x, y, ["no picture:", *_wrap(draw, font, problem, TILE_PX - 8)])
        for line, text in enumerate((tile.record, tile.check_label)):
            draw.text((x, y + TILE_PX + 4 + 14 * line), _fit(draw, font, text, TILE_PX), fill=(0, 0, 0), font=font)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _thumbnail(path: Path, max_pixels: int):
    """(thumbnail, None) or (None, why): Pillow's errors are the tile's message, never the run's end."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # DecompressionBombWarning: the size is checked just below
            with Image.open(path) as im:
                if im.width * im.height > max_pixels:
                    return None, f"{im.width}x{im.height}: over --max-pixels"
                im.draft("RGB", (TILE_PX, TILE_PX))   # JPEG: decode at a reduced scale (DCT scaling)
                rgb = im.convert("RGB")             # what training sees
            rgb.thumbnail((TILE_PX, TILE_PX))
            return rgb, None
    except Exception as e:   # noqa: BLE001 - any decoder failure becomes the placeholder's text
        return None, f"Pillow: {type(e).__name__}"


def _fit(draw, font, text: str, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def _wrap(draw, font, text: str, width: int, lines: int = 4) -> list[str]:
    out, cur = [], ""
    for word in text.split():
        trial = f"{cur} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not cur:
            cur = trial
        else:
            out.append(cur)
            cur = word
    out.append(cur)
    return [_fit(draw, font, line, width) for line in out[:lines]]


def _centred(draw, font, x: int, y: int, lines: list[str]) -> None:
    top = y + TILE_PX // 2 - 7 * len(lines)
    for k, line in enumerate(lines):
        w = draw.textlength(line, font=font)
        draw.text((x + (TILE_PX - w) / 2, top + 14 * k), line, fill=(60, 60, 60), font=font)
