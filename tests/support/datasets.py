"""Shared fixtures: tiny datasets written to disk as the user's would be (real PNGs, LLaVA JSON).

- ``make_clean_dataset(root, models=6, val_models=2, views=VIEWS, size=(512, 512), seed=0)``: CAD-like
  renders (white background, flat grey faces of an extruded polygon, dark outlines) and one record per
  image whose answer is valid OpenECAD-style code. ``load(root) -> Dataset``.
- ``make_defect_dataset(root) -> DefectDataset``: a clean dataset plus one planted defect of each kind;
  ``planted`` lists the finding each must raise (check id, severity, and the record or image it is on).
- ``make_mixed_dataset(root)``: a LLaVA-style mix (nested COCO-like JPEGs, PNG renders, multi-turn and
  text-only records, a record without an id, a repeated id) on which TinyLLaVA trains every record as meant.
Fixtures ``clean_dataset`` and ``defect_dataset`` in ``tests/conftest.py``.
"""
from __future__ import annotations

import io
import json
import math
import os
import random
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from harness.config import VIEWS
from harness.data.layout import resolve_dataset
from harness.data.records import load_dataset

PROMPT = "<image>\nWhat is the CAD code for this 3D model?"
# Oblique projection offsets of the extrusion direction per view: each view shows other faces.
_VIEW_SHIFT = {"front": (0.0, -0.9), "top": (0.35, -0.35), "right": (0.9, -0.2)}


def _polygon(rng: random.Random) -> list[tuple[float, float]]:
    n = rng.randint(3, 7)   # evenly spread corners, jittered: never a sliver
    angles = [2 * math.pi * (k + rng.uniform(-0.25, 0.25)) / n for k in range(n)]
    return [(math.cos(a) * rng.uniform(0.6, 1.0), math.sin(a) * rng.uniform(0.6, 1.0)) for a in angles]


def render_cad(seed: int, view: str = "front", size: tuple[int, int] = (512, 512)) -> Image.Image:
    """A CAD-like render: an extruded random polygon, flat grey faces, dark outlines, white background."""
    rng = random.Random(seed)
    poly, height = _polygon(rng), rng.uniform(0.3, 0.8)
    w, h = size
    scale, cx, cy = min(w, h) * rng.uniform(0.25, 0.35), w / 2, h / 2 + min(w, h) * 0.1
    sx, sy = (v * height * min(w, h) * 0.3 for v in _VIEW_SHIFT.get(view, (0.5, -0.5)))
    base = [(cx + x * scale, cy + y * scale) for x, y in poly]
    top = [(x + sx, y + sy) for x, y in base]
    im = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(im)
    edge = (40, 40, 40)
    for i in range(len(base)):   # side faces, shaded by their direction
        j = (i + 1) % len(base)
        ang = math.atan2(base[j][1] - base[i][1], base[j][0] - base[i][0])
        g = int(150 + 40 * math.cos(ang))
        d.polygon([base[i], base[j], top[j], top[i]], fill=(g, g, g), outline=edge, width=2)
    d.polygon(top, fill=(205, 205, 205), outline=edge, width=2)
    return im


def png_bytes(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", **kw)
    return buf.getvalue()


def openecad_code(seed: int) -> str:
    """Valid OpenECAD-style code of one extruded polygon (the answer of a clean record)."""
    rng = random.Random(seed)
    pts = [(round(x * 40, 4), round(y * 40, 4)) for x, y in _polygon(rng)]
    lines = ["SketchPlane0 = add_sketchplane(",
             "\torigin= [0., 0., 0.], normal= [0., 0., 1.], x_axis= [1., 0., 0.])",
             "Loops0 = []", "Curves0_0 = []"]
    for k, (a, b) in enumerate(zip(pts, pts[1:] + pts[:1])):
        lines.append(f"Line0_0_{k} = add_line(start= [{a[0]}, {a[1]}], end= [{b[0]}, {b[1]}])")
    lines += ["Loop0_0 = add_loop(Curves0_0)", "Profile0 = add_profile(Loops0)",
              "Sketch0 = add_sketch(sketch_plane= SketchPlane0, profile= Profile0)",
              "Extrude0 = add_extrude(sketch= Sketch0,",
              f"\toperation= 0, type= 0, extent_one= {round(rng.uniform(5, 50), 4)}, extent_two= 0.)"]
    return "\n".join(lines) + "\n"


def record(model: str, view: str, seed: int, **override) -> dict:
    r = {"id": f"{model}_{view}", "image": f"{model}_{view}.png",
         "conversations": [{"from": "human", "value": PROMPT}, {"from": "gpt", "value": openecad_code(seed)}]}
    r.update(override)
    return r


def write_json(root: Path, train: list, val: list) -> None:
    (root / "train.json").write_text(json.dumps(train, indent=1))
    (root / "val.json").write_text(json.dumps(val, indent=1))


def make_clean_dataset(root: Path, *, models: int = 6, val_models: int = 2, views=VIEWS,
                       size: tuple[int, int] = (512, 512), seed: int = 0) -> Path:
    """Write ``models`` CAD models x ``views`` (the last ``val_models`` in val) under ``root``."""
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    train, val = [], []
    for m in range(models):
        model, mseed = f"{seed * 1000 + m:08d}", seed * 1000 + m
        for view in views:
            render_cad(mseed, view, size).save(root / "images" / f"{model}_{view}.png")
            (val if m >= models - val_models else train).append(record(model, view, mseed))
    write_json(root, train, val)
    return root


def load(root: Path):
    return load_dataset(resolve_dataset(root))


@dataclass(frozen=True)
class Planted:
    """A finding a planted defect must raise; None fields are not compared."""

    name: str
    check: str
    severity: str
    split: str | None = None
    record_index: int | None = None
    image: str | None = None

    def matches(self, f: dict) -> bool:
        return f["check"] == self.check and f["severity"] == self.severity and all(
            getattr(self, k) is None or f[k] == getattr(self, k) for k in ("split", "record_index", "image"))


@dataclass
class DefectDataset:
    root: Path
    planted: list[Planted] = field(default_factory=list)


def huge_png(width: int = 40000, height: int = 40000) -> bytes:
    """A PNG whose IHDR (with a valid CRC) declares ``width`` x ``height`` but carries almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def make_defect_dataset(root: Path) -> DefectDataset:
    """A clean 8-model dataset plus one of each planted defect, each on its own record or image."""
    root = Path(root)
    make_clean_dataset(root, models=8, val_models=2)
    img = root / "images"
    train = json.loads((root / "train.json").read_text())
    val = json.loads((root / "val.json").read_text())
    out = DefectDataset(root=root)

    def add(split: str, rec: dict, name: str, check: str, severity: str, on: str = "record") -> None:
        recs = train if split == "train" else val
        recs.append(rec)
        out.planted.append(Planted(name=name, check=check, severity=severity, split=split,
                                   record_index=len(recs) - 1 if on == "record" else None,
                                   image=rec.get("image") if on == "image" else None))

    def new_image(model: str, seed: int) -> bytes:
        for view in VIEWS[1:]:   # the model's other views are clean
            render_cad(seed, view).save(img / f"{model}_{view}.png")
            train.append(record(model, view, seed))
        return png_bytes(render_cad(seed, "front"))

    good = png_bytes(render_cad(1, "front"))
    # Images that stop training or silently spoil it.
    new_image("50000001", 501)
    add("train", record("50000001", "front", 501), "missing image", "image.missing", "error", on="image")
    data = new_image("50000002", 502)
    (img / "50000002_front.png").write_bytes(data[: len(data) * 6 // 10])
    add("train", record("50000002", "front", 502), "truncated PNG", "image.truncated", "error", on="image")
    data = bytearray(new_image("50000003", 503))
    data[len(data) // 2] ^= 0xFF
    (img / "50000003_front.png").write_bytes(bytes(data))
    add("train", record("50000003", "front", 503), "CRC-corrupt PNG", "image.crc_mismatch", "error", on="image")
    new_image("50000004", 504)
    (img / "50000004_front.png").write_bytes(huge_png())
    add("train", record("50000004", "front", 504), "40000x40000 PNG", "image.pixel_limit", "error", on="image")
    new_image("50000005", 505)
    (img / "50000005_front.png").write_text("not an image at all")
    add("train", record("50000005", "front", 505), "text file as image", "image.not_an_image", "error", on="image")
    # Images that load but deserve a word.
    new_image("50000006", 506)
    render_cad(506, "front", (500, 512)).save(img / "50000006_front.png")
    add("train", record("50000006", "front", 506), "500x512 image", "dataset.resolution_inconsistent",
        "warning", on="image")
    (img / "50000007_front.png").write_bytes(new_image("50000007", 507) + b"trailing bytes")
    add("train", record("50000007", "front", 507), "data after IEND", "image.trailing_data", "warning", on="image")
    render_cad(9, "front").save(img / "orphan_front.png")
    out.planted.append(Planted(name="orphan", check="dataset.orphan_image", severity="warning",
                               image="orphan_front.png"))
    # Records that stop training or silently spoil it.
    new_image("50000010", 510)
    (img / "50000010_front.png").write_bytes(png_bytes(render_cad(510, "front")))
    bad = record("50000010", "front", 510)
    del bad["conversations"]
    add("train", bad, "no conversations", "record.conversations_missing", "error")
    conv = lambda *turns: [{"from": f, "value": v} for f, v in turns]  # noqa: E731
    for k, (turns, name, check) in enumerate([
        (conv(("human", PROMPT), ("gpt", openecad_code(1)), ("human", "more?")), "odd turns",
         "record.turn_structure"),
        (conv(("robot", PROMPT), ("gpt", openecad_code(1))), "unknown role", "record.turn_structure"),
        (conv(("human", "What is the CAD code?"), ("gpt", openecad_code(1))), "no <image>",
         "labels.placeholders"),
        (conv(("human", PROMPT), ("gpt", "")), "empty answer", "labels.empty_supervision"),
    ]):
        model = f"5000002{k}"
        (img / f"{model}_front.png").write_bytes(png_bytes(render_cad(520 + k, "front")))
        new_image(model, 520 + k)
        add("train", record(model, "front", 520 + k, conversations=turns), name, check, "error")
    (root.parent / "outside.png").write_bytes(good)
    os.symlink(root.parent / "outside.png", img / "50000030_front.png")
    for k, (image, name) in enumerate([("../outside.png", "'..' path"),
                                       (str(root.parent / "outside.png"), "absolute path"),
                                       ("50000030_front.png", "symlink out")]):
        add("train", record("50000030", "front", 530, image=image, id=f"unsafe{k}"), name,
            "record.image_path_unsafe", "error")
    # Across splits: one model in both; one train sample (image and answer) copied into val under another
    # model's name; one train image copied over a val model's picture (its own answer kept).
    m = "00000000"   # a clean train model (seed 0)
    (img / "40000001_front.png").write_bytes((img / f"{m}_front.png").read_bytes())
    add("val", record("40000001", "front", 0), "sample copied across splits",
        "dataset.image_copied_across_splits", "error", on="image")
    (img / "40000003_front.png").write_bytes((img / f"{m}_top.png").read_bytes())
    add("val", record("40000003", "front", 403), "picture copied across splits, other answer",
        "dataset.same_picture_across_splits", "warning", on="image")
    new_image("40000002", 402)   # its top and right views are in train ...
    (img / "40000002_front.png").write_bytes(png_bytes(render_cad(402, "front")))
    val.append(record("40000002", "front", 402))   # ... and its front view in val
    out.planted.append(Planted(name="model in both splits", check="dataset.model_leakage", severity="error",
                               split="val"))
    write_json(root, train, val)
    return out


def jpeg_bytes(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90, **kw)
    return buf.getvalue()


def _turns(*pairs: tuple[str, str]) -> list[dict]:
    return [{"from": f, "value": v} for f, v in pairs]


def make_mixed_dataset(root: Path) -> Path:
    """A LLaVA-style mix as real data sets are: COCO-like JPEGs in nested folders
    (``coco/train2017/000000033471.jpg``), PNG CAD renders beside them, multi-turn records, text-only
    records without ``image`` or ``<image>`` (ShareGPT), a record without an id and ids repeated within a
    split. Everything in it trains in TinyLLaVA as meant: no error finding."""
    root = Path(root)
    img = root / "images"
    (img / "coco" / "train2017").mkdir(parents=True, exist_ok=True)
    (img / "renders").mkdir(parents=True, exist_ok=True)
    # ShareGPT-style text-only records: no image key, no <image>; TinyLLaVA trains them as text.
    train = [{"id": "sharegpt_0", "conversations": _turns(
        ("human", "Write a haiku about CAD."), ("gpt", "Lines meet in a plane / extrude the sketch into form"))}]
    val = [{"id": "sharegpt_1", "conversations": _turns(("human", "What is 2+2?"), ("gpt", "It is 4."))}]
    for k, n in enumerate((33471, 52846, 334872, 319154)):
        name = f"coco/train2017/{n:012d}.jpg"
        (img / name).write_bytes(jpeg_bytes(render_cad(700 + k, "top", (640, 480))))
        split = val if k == 3 else train
        split.append({"id": f"{n:012d}", "image": name, "conversations": _turns(
            ("human", "<image>\nWhat shape is in the picture?"), ("gpt", f"An extruded polygon number {k}."),
            ("human", "How many faces can you see?"), ("gpt", f"About {3 + k} faces."))})
    for k in range(4):
        name = f"renders/{k:08d}_front.png"
        (img / name).write_bytes(png_bytes(render_cad(800 + k, "front", (512, 512))))
        (val if k == 3 else train).append(record(f"{k:08d}", "front", 800 + k, image=name))
    train.append({"conversations": _turns(("human", "Say hi."), ("gpt", "Hi."),
                                          ("human", "Again?"), ("gpt", "Hi again."))})   # no id at all
    # Repeated ids within a split (LLaVA mixes reuse ids across their sources).
    train.append({"id": "000000033471", "image": "coco/train2017/000000033471.jpg", "conversations": _turns(
        ("human", "<image>\nDescribe the picture briefly."), ("gpt", "A grey extruded shape on white."))})
    write_json(root, train, val)
    return root
