"""The report's sections one acts on: the contact sheet of the flagged images (a person looks) and the
clean copy written by ``--write-clean`` (a script takes it). Shared by the dry-run and validation reports."""
from __future__ import annotations

from collections import Counter

from harness.results.contact_sheet import FILE, Gallery
from harness.results.format import md_table


def section_flagged(gallery: Gallery | None) -> str:
    if gallery is None:
        return ""
    if not gallery.flagged:
        return "## Flagged images\n\nNo image is named by an error or warning finding about its picture."
    shown = len(gallery.tiles)
    left = (f"; the first {shown} are shown, {gallery.left_off:,} left off (`findings.arrow` lists them all)"
            if gallery.left_off else "")
    return "\n".join([
        "## Flagged images", "",
        f"{gallery.flagged:,} image(s) with an error or warning finding about the picture (image checks, pixel "
        f"statistics, duplicates; text findings have no tile), worst first (errors, red border, "
        f"before warnings, orange){left}. Each tile: the record (split[index], or the image name when no "
        f"record names it) and its worst check (+N: more checks). Thumbnails are what training sees "
        f"(`convert(\"RGB\")`); a grey tile is a file that could not be decoded or read, with the reason.",
        "", f"![flagged images, worst first]({FILE})",
    ])


def section_clean(clean) -> str:
    """``clean``: the ``harness.runs.clean.CleanResult`` of ``--write-clean``, or None."""
    if clean is None:
        return ""
    rows = [[s, f"{clean.kept[s]:,}", f"{clean.left_out.get(s, 0):,}"] for s in clean.kept]
    by_check = Counter(clean.table.column("check").to_pylist())
    why = ", ".join(f"`{c}` ({n:,})" for c, n in by_check.most_common(8)) or "nothing"
    return "\n".join([
        "## Clean copy (`--write-clean`)", "",
        f"Written to `{clean.out}`: `train.json` and `val.json` hold only the sound records (no error finding "
        f"on the record or its image; warnings kept), each as it came; `left_out.arrow` has one row per record "
        f"left out and error that put it out (split, record_index, id, image, check, message). The input is "
        f"untouched; the clean files name the same images (rerun with `--images` on the original folder).", "",
        md_table(["split", "kept", "left out"], rows), "", f"Left out by: {why}.",
    ])
