"""The Loader's worker threads: the same batches whatever the worker count, in the order asked for, every
decode path exact, and a failure raised where it happens (not swallowed, not a hang)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from harness.errors import HarnessError
from harness.loader import Loader
from harness.loader.pipeline import _pixels
from harness.text.proxy import encode_sample
from kernels import reference

KEYS = ("images", "input_ids", "attention_mask", "labels", "index")


def _picture(seed, w, h):
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    for _ in range(4):
        pts = [tuple(rng.integers(0, max(w, h), 2).tolist()) for _ in range(4)]
        d.polygon(pts, fill=tuple(int(v) for v in rng.integers(40, 230, 3)), outline=(20, 20, 20))
    return im


# every decode path the Loader has: the PNG kernel (RGB, RGBA, palette with transparency, grey), and
# Pillow (JPEG colour, grey and CMYK; an interlaced-free 16-bit PNG goes through the kernel too)
FILES = [("rgb.png", "RGB", 72, 60), ("rgba.png", "RGBA", 64, 64), ("pal.png", "P", 50, 70),
         ("grey.png", "L", 48, 48), ("photo.jpg", "RGB", 80, 64), ("grey.jpg", "L", 64, 40),
         ("cmyk.jpg", "CMYK", 40, 56), ("big.png", "RGB", 96, 96)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers")
    (root / "images").mkdir()
    for k, (name, mode, w, h) in enumerate(FILES):
        im = _picture(k, w, h)
        if mode == "P":
            im = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
            im.info["transparency"] = 0
        elif mode != "RGB":
            im = im.convert(mode)
        im.save(root / "images" / name, **({"quality": 92} if name.endswith(".jpg") else {}))
    train = []
    for i in range(23):
        rec = {"id": str(i), "conversations": [
            {"from": "human", "value": f"<image>\nDescribe part {i}." if i % 5 else f"Question {i} only."},
            {"from": "gpt", "value": "box " * i + f"extrude {i}"}]}
        if i % 5:   # every fifth record has no image: TinyLLaVA's zero tensor
            rec["image"] = FILES[i % len(FILES)][0]
        train.append(rec)
    (root / "train.json").write_text(json.dumps(train))
    (root / "val.json").write_text("[]")
    return root


def _all(loader):
    return [{k: b[k].clone() for k in KEYS} for b in loader]


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_same_batches_in_order_whatever_the_worker_count(folder, shuffle):
    kw = {"batch_size": 3, "image_size": 48, "max_length": 40, "shuffle": shuffle, "seed": 3, "pin_memory": False}
    base = Loader(folder, workers=0, **kw)
    base.set_epoch(2)
    want = _all(base)
    order = base.order().tolist()
    assert [i for b in want for i in b["index"].tolist()] == [base.records[j].index for j in order]
    for workers in (1, 2, 3, 5):
        loader = Loader(folder, workers=workers, **kw)
        loader.set_epoch(2)
        for epoch in range(2):   # a second pass over the same threads' scratch buffers gives the same
            got = _all(loader)
            assert len(got) == len(want) == 8
            for g, w in zip(got, want):
                for k in KEYS:
                    assert torch.equal(g[k], w[k]), (workers, epoch, k)
        assert loader.stats == {k: 2 * v for k, v in base.stats.items()}


def test_every_decode_path_is_exact(folder):
    # Pillow's pixels (convert("RGB")) through stock Pillow's BICUBIC and torchvision's float ops, bit for
    # bit: the PNG kernel, and Pillow's own buffers read in place (4 bytes a pixel, no copy)
    loader = Loader(folder, batch_size=4, image_size=48, workers=2, max_length=40, pin_memory=False)
    seen = 0
    for batch in loader:
        for row, idx in enumerate(batch["index"].tolist()):
            rec = loader.records[idx]
            ids, labels = encode_sample(rec.prompt, rec.answer, 40)
            assert batch["input_ids"][row].tolist() == ids.tolist()
            assert batch["labels"][row].tolist() == labels.tolist()
            assert batch["attention_mask"][row].tolist() == (ids != 0).tolist()
            if rec.image is None:
                assert torch.count_nonzero(batch["images"][row]) == 0
                continue
            with Image.open(folder / "images" / rec.image) as im:
                rgb = np.asarray(im.convert("RGB"))
            want = reference.resize_normalize(rgb, 48, 48)
            np.testing.assert_array_equal(batch["images"][row].numpy(), want, err_msg=rec.image)
            seen += 1
    jpegs = sum(1 for r in loader.records if (r.image or "").endswith(".jpg"))
    assert seen == 18 and jpegs == 7
    assert loader.stats == {"pillow": jpegs, "kernel": seen - jpegs, "blank": 5}


def test_pillow_pixels_without_a_copy_and_the_fallback():
    small = _picture(1, 40, 30)
    view = _pixels(small)
    assert view.shape == (30, 40, 4) and np.array_equal(view[..., :3], np.asarray(small))
    big = Image.new("RGB", (2400, 2000), (10, 200, 30))   # past Pillow's block: not one Arrow buffer
    arr = _pixels(big)
    assert arr.shape[:2] == (2000, 2400) and np.array_equal(arr[..., :3], np.asarray(big))


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_failing_image_is_raised_at_its_batch(folder, tmp_path, workers, damage):
    (tmp_path / "images").mkdir()
    recs = json.loads((folder / "train.json").read_text())[:9]
    for name in {r["image"] for r in recs if "image" in r}:
        (tmp_path / "images" / name).write_bytes((folder / "images" / name).read_bytes())
    recs[7]["image"] = "bad.png"
    if damage == "corrupt":
        (tmp_path / "images" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (tmp_path / "train.json").write_text(json.dumps(recs))
    (tmp_path / "val.json").write_text("[]")
    loader = Loader(tmp_path, batch_size=2, image_size=32, workers=workers, max_length=16, pin_memory=False)
    got = []
    with pytest.raises((HarnessError, FileNotFoundError), match="bad.png"):
        for b in loader:
            got.append(b["index"].tolist())
    assert got == [[0, 1], [2, 3], [4, 5]]   # every batch before the failing one, in order
    loader.records = loader.records[:6]      # the Loader is usable again: no thread left holding a buffer
    assert [b["index"].tolist() for b in loader] == got
