"""The contact sheet of the flagged images beside ``report.md``: one labelled thumbnail per flagged image,
worst first, capped; an image that cannot be decoded gets a grey placeholder. Real runs of the CLI, the PNG
read back and its tiles found by their pixels."""
import io

import pytest
from click.testing import CliRunner
from PIL import Image

from harness.cli import main
from harness.results.contact_sheet import CAP, COLUMNS, FILE, LABEL_PX, PAD_PX, TILE_PX, flagged_images
from harness.results.schema import FINDINGS, IMAGES, RECORDS, read_metadata
from harness.results.write import read_table
from tests.support.datasets import make_clean_dataset

CELL_W, CELL_H = TILE_PX + 2 * PAD_PX, TILE_PX + LABEL_PX + 2 * PAD_PX
RED, ORANGE, GREY, WHITE = (200, 30, 30), (230, 150, 20), (215, 215, 215), (255, 255, 255)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def flagged(out) -> set[str]:
    """Image names an error or warning finding of a picture check points at, directly or through its record:
    from the tables (the catalogue in their metadata says which checks are about pictures)."""
    rec = {(r["split"], r["record_index"]): r["image"] for r in read_table(out / "records.arrow").to_pylist()}
    findings = read_table(out / "findings.arrow")
    pictures = {c["id"] for c in read_metadata(findings.schema)["checks"] if c["pictures"]}
    names = set()
    for f in findings.to_pylist():
        if f["severity"] in ("error", "warning") and f["check"] in pictures:
            name = f["image"] or rec.get((f["split"], f["record_index"]))
            if name:
                names.add(name)
    return names


def tiles(sheet: Image.Image) -> list[tuple[tuple, tuple]]:
    """(border colour, colour just inside the thumbnail box's corner) of each drawn cell, in order; a cell
    whose border is white is empty (the end of the last row)."""
    found = []
    for row in range(sheet.height // CELL_H):
        for col in range(sheet.width // CELL_W):
            x, y = col * CELL_W + PAD_PX, row * CELL_H + PAD_PX
            border = sheet.getpixel((x - 2, y - 2))
            if border != WHITE:
                found.append((border, sheet.getpixel((x + 3, y + 3))))
    return found


def test_report_embeds_one_tile_per_flagged_image_worst_first(defect_dataset, tmp_path):
    out = tmp_path / "run"
    result = run("validate", defect_dataset.root, "--out", out)
    assert result.exit_code == 1, result.output
    report = (out / "report.md").read_text()
    assert f"]({FILE})" in report and "## Flagged images" in report
    names = flagged(out)
    assert len(names) < CAP and f"{len(names):,} image(s) with an error or warning finding" in report
    sheet = Image.open(out / FILE)
    assert sheet.format == "PNG"
    drawn = tiles(sheet)
    assert len(drawn) == len(names)
    borders = [b for b, _ in drawn]
    assert set(borders) <= {RED, ORANGE} and borders == sorted(borders, key=lambda c: c != RED)   # errors first
    # Undecodable files (missing, truncated, CRC, pixel limit, not an image) and paths outside the image
    # folder: grey placeholders, never opened; every other flagged image is a thumbnail (white background).
    images = {r["image"]: r for r in read_table(out / "images.arrow").to_pylist()}
    unreadable = {n for n in names if n not in images or images[n]["decode_ok"] is False}
    assert len(unreadable) == 8
    assert sum(inside == GREY for _, inside in drawn) == len(unreadable)
    assert sum(inside == WHITE for _, inside in drawn) == len(names) - len(unreadable)


def test_the_sheet_is_capped_and_says_how_many_were_left_off(tmp_path):
    root = make_clean_dataset(tmp_path / "many", models=18, size=(96, 96))
    for png in (root / "images").glob("*.png"):   # data after IEND: a warning on each of the 54 images
        png.write_bytes(png.read_bytes() + b"trailing bytes")
    out = tmp_path / "run"
    result = run("validate", root, "--out", out)
    assert result.exit_code == 0, result.output
    assert len(flagged(out)) == 54
    drawn = tiles(Image.open(out / FILE))
    assert len(drawn) == CAP and {b for b, _ in drawn} == {ORANGE}
    assert Image.open(out / FILE).width == COLUMNS * CELL_W
    report = (out / "report.md").read_text()
    assert f"the first {CAP} are shown, {54 - CAP} left off" in report


def test_no_sheet_when_nothing_is_flagged(clean_dataset, tmp_path):
    out = tmp_path / "run"
    assert run("validate", clean_dataset, "--out", out).exit_code == 0
    assert not (out / FILE).exists()
    assert "No image is named by an error or warning finding" in (out / "report.md").read_text()


@pytest.mark.parametrize("damage", ["truncated jpeg", "garbage"])
def test_dryrun_sheet_gives_an_undecodable_image_a_placeholder(tmp_path, damage):
    root = make_clean_dataset(tmp_path / "d", models=4, val_models=1, size=(128, 128))
    victim = sorted((root / "images").glob("*.png"))[0]
    if damage == "truncated jpeg":   # a JPEG under a .png name, cut in half: formats go by content
        buf = io.BytesIO()
        Image.open(victim).convert("RGB").save(buf, format="JPEG")
        victim.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    else:
        victim.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    out = tmp_path / "run"
    result = run("dryrun", root, "--out", out, "--samples", "4", "--epochs", "1", "--batch-size", "2",
                 "--image-size", "64", "--loader-samples", "2")
    assert "Traceback" not in result.output
    assert f"]({FILE})" in (out / "report.md").read_text()
    drawn = tiles(Image.open(out / FILE))
    assert drawn[0] == (RED, GREY)   # the error first, as a placeholder
    assert len(drawn) == len(flagged(out))


def test_text_findings_get_no_tile():
    """A long answer or a bad turn says nothing a thumbnail could show: only picture checks make tiles."""
    import pyarrow as pa
    findings = pa.Table.from_pylist([
        {"severity": "warning", "check": "tokens.over_max_length", "message": "long", "split": "train",
         "record_index": 0, "image": "a.png"},
        {"severity": "warning", "check": "dataset.dark", "message": "dark", "split": "train", "image": "b.png"},
    ], schema=FINDINGS)
    images = pa.Table.from_pylist([{"image": n, "decode_ok": True, "exists": True} for n in ("a.png", "b.png")],
                                  schema=IMAGES)
    records = pa.Table.from_pylist([{"split": "train", "record_index": i, "image": n}
                                    for i, n in enumerate(("a.png", "b.png"))], schema=RECORDS)
    gallery = flagged_images(findings, images, records, pictures={"dataset.dark"})
    assert [t.image for t in gallery.tiles] == ["b.png"] and gallery.flagged == 1
    assert {t.image for t in flagged_images(findings, images, records).tiles} == {"a.png", "b.png"}
