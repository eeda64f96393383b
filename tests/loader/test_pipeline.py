"""harness.loader.Loader on a small dataset folder of CAD-like renders made here with Pillow."""
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from harness.data.layout import resolve_dataset
from harness.data.records import load_dataset
from harness.loader import STAGES, Loader, pick_resize_backend
from harness.results.metadata import pil_flavour
from harness.text.proxy import IGNORE_INDEX, encode_sample
from kernels import reference


def _render(seed, size=96):
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    for _ in range(3):
        pts = [tuple(rng.integers(0, size, 2).tolist()) for _ in range(4)]
        g = int(rng.integers(90, 220))
        d.polygon(pts, fill=(g, g, g), outline=(20, 20, 20))
    return im


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    (root / "images").mkdir()
    train = []
    for i in range(11):
        name = f"m{i}_front.jpg" if i == 4 else f"m{i}_front.png"
        im = _render(i, size=96 if i % 3 else 80)
        im.save(root / "images" / name, quality=95) if name.endswith(".jpg") else im.save(root / "images" / name)
        train.append({"id": str(i), "image": name, "conversations": [
            {"from": "human", "value": f"<image>\nDescribe part {i}."},
            {"from": "gpt", "value": f"box {i} extrude {i * 2}"}]})
    (root / "train.json").write_text(json.dumps(train))
    (root / "val.json").write_text(json.dumps(train[:2]))
    return root


def _reference(folder, name, size):
    # stock Pillow's BICUBIC (kernels.reference, whichever PIL is installed), then torchvision's float ops
    tf = T.Compose([T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])
    with Image.open(folder / "images" / name) as im:
        rgb = np.asarray(im.convert("RGB"))
    return tf(Image.fromarray(reference.resize(rgb, size, size)))


def _installed_pil(folder, name, size):
    tf = T.Compose([T.Resize((size, size), InterpolationMode.BICUBIC), T.ToTensor(),
                    T.Normalize((0.5,) * 3, (0.5,) * 3)])
    with Image.open(folder / "images" / name) as im:
        return tf(im.convert("RGB"))


@pytest.mark.parametrize("workers,backend", [(0, "numba"), (2, "numba"), (0, "pil"), (2, "auto")])
def test_batches_match_torchvision_and_count_decode_paths(folder, workers, backend):
    loader = Loader(folder, batch_size=4, image_size=64, workers=workers, max_length=48, resize_backend=backend)
    exact = loader.resize_backend == "numba" or not pil_flavour()["simd"]
    assert len(loader) == 3
    seen = []
    for batch in loader:
        b = batch["images"].shape[0]
        assert batch["images"].shape == (b, 3, 64, 64) and batch["images"].dtype == torch.float32
        for k in ("input_ids", "attention_mask", "labels"):
            assert batch[k].shape == (b, 48) and batch[k].dtype == torch.int64
        assert batch["index"].dtype == torch.int64
        for row, idx in enumerate(batch["index"].tolist()):
            rec = loader.records[idx]
            want = _reference(folder, rec.image, 64)
            diff = (batch["images"][row] - want).abs() * (255 * 0.5)   # in grey levels
            assert diff.max().item() <= 2 + 1e-3 and diff.mean().item() <= 0.5
            if rec.image.endswith(".png") and exact:
                assert torch.equal(batch["images"][row], want)  # the numba kernel is bit-identical
            if loader.resize_backend == "pil":   # the pil backend is the installed PIL's own resize
                assert torch.equal(batch["images"][row], _installed_pil(folder, rec.image, 64))
            ids, labels = encode_sample(rec.prompt, rec.answer, 48)
            assert batch["input_ids"][row].tolist() == ids.tolist()
            assert batch["labels"][row].tolist() == labels.tolist()
            assert batch["attention_mask"][row].tolist() == (ids != 0).astype(int).tolist()
            seen.append(idx)
    assert seen == list(range(11))
    assert dict(loader.stats) == {"kernel": 10, "pillow": 1}
    assert len(loader.timings) == 3 and all(set(STAGES) <= set(t) for t in loader.timings)
    assert loader.stage_totals()["decode_s"] > 0


def test_labels_are_masked_on_the_prompt(folder):
    batch = next(iter(Loader(folder, batch_size=2, image_size=32, workers=0, max_length=64)))
    labels, ids = batch["labels"][0], batch["input_ids"][0]
    learned = labels != IGNORE_INDEX
    assert learned.any() and not learned[:2].any()
    first = int(learned.nonzero()[0])
    text = bytes((ids[first:first + 5] - 4).tolist()).decode()
    assert text == "box 0"
    assert torch.equal(labels[learned], ids[learned])


def test_shuffle_is_deterministic_per_seed_and_epoch(folder):
    def order(seed, epoch):
        loader = Loader(folder, batch_size=3, image_size=16, workers=0, shuffle=True, seed=seed, max_length=8)
        loader.set_epoch(epoch)
        return [i for b in loader for i in b["index"].tolist()]

    a = order(1, 0)
    assert a == order(1, 0) and sorted(a) == list(range(11))
    assert a != list(range(11))
    assert a != order(1, 1) and a != order(2, 0)


def test_drop_last_and_records_subset(folder):
    ds = load_dataset(resolve_dataset(folder))
    assert len(Loader(ds, batch_size=4, drop_last=True, workers=0, image_size=16, max_length=8)) == 2
    sub = [r for r in ds.records["train"] if r.index % 2 == 0]
    loader = Loader(ds, batch_size=4, workers=0, image_size=16, max_length=8, records=sub)
    got = [i for b in loader for i in b["index"].tolist()]
    assert got == [0, 2, 4, 6, 8, 10]
    val = Loader(ds, split="val", batch_size=8, workers=0, image_size=16, max_length=8)
    assert [b["images"].shape[0] for b in val] == [2]


def test_same_size_images_skip_resize_and_buffers_are_reused(folder):
    loader = Loader(folder, batch_size=2, image_size=96, workers=0, max_length=8)
    ptrs = {b["images"].data_ptr() for b in loader}
    assert len(ptrs) == 2  # ring of workers + 2 buffers, reused every other batch
    ds = load_dataset(resolve_dataset(folder))
    loader = Loader(ds, batch_size=1, image_size=96, workers=0, max_length=8, records=[ds.records["train"][1]])
    first = next(iter(loader))["images"][0]  # m1 is already 96x96: normalised without resampling
    assert torch.equal(first, _reference(folder, "m1_front.png", 96))


def test_resize_backend_choice():
    # auto is the numba kernel whichever PIL is active: with its repeated-row path it beats pillow-simd
    # on CAD renders (benchmarks/bench_kernels.py), and it is bit-identical to stock Pillow
    assert pick_resize_backend() == "numba"
    assert pick_resize_backend("numba") == "numba" and pick_resize_backend("pil") == "pil"
    with pytest.raises(ValueError):
        pick_resize_backend("opencv")


def test_a_record_without_an_image_gets_the_blank_image(tmp_path):
    """A text-only record (no 'image' key) between two image records: TinyLLaVA gives it
    torch.zeros(3, crop, crop), zeros after normalisation; the Loader writes zeros in its slot (over a
    reused buffer that held a picture), keeps its text, and counts it in stats['blank']."""
    (tmp_path / "images").mkdir()
    _render(1, 64).save(tmp_path / "images" / "a.png")
    conv = lambda q, a: [{"from": "human", "value": q}, {"from": "gpt", "value": a}]  # noqa: E731
    train = [{"image": "a.png", "conversations": conv("<image>\nWhat?", "a part")},
             {"id": "t", "conversations": conv("Say hi.", "Hi there.")},
             {"image": "a.png", "conversations": conv("<image>\nAgain?", "the part")}]
    (tmp_path / "train.json").write_text(json.dumps(train))
    (tmp_path / "val.json").write_text("[]")
    loader = Loader(tmp_path, batch_size=1, image_size=32, workers=0, pin_memory=False)
    batches = [{k: v.clone() for k, v in b.items()} for b in loader]
    assert [int(b["index"][0]) for b in batches] == [0, 1, 2]
    assert torch.count_nonzero(batches[1]["images"]) == 0
    assert torch.count_nonzero(batches[0]["images"]) > 0 and torch.count_nonzero(batches[2]["images"]) > 0
    ids, labels = encode_sample("Say hi.", "Hi there.", loader.max_length)
    assert np.array_equal(batches[1]["input_ids"][0].numpy(), ids)
    assert loader.stats["blank"] == 1 and loader.stats["kernel"] == 2


def test_the_torchvision_peer_and_the_bench_take_text_only_records(tmp_path):
    """A text-only record (no 'image') beside an image record: the torchvision peer gives it TinyLLaVA's
    zero tensor instead of opening a file, and the bench's usable_records (image records only) skips it."""
    from harness.bench.stages import usable_records
    from harness.loader.torchvision_peer import TorchvisionSamples

    (tmp_path / "images").mkdir()
    _render(2, 48).save(tmp_path / "images" / "a.png")
    conv = [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi."}]
    (tmp_path / "train.json").write_text(json.dumps([{"image": "a.png", "conversations": conv},
                                                     {"id": "t", "conversations": conv}]))
    (tmp_path / "val.json").write_text("[]")
    ds = load_dataset(resolve_dataset(tmp_path))
    peer = TorchvisionSamples(ds.images, ds.records["train"], 32, 64)
    assert torch.count_nonzero(peer[1]["images"]) == 0 and peer[1]["images"].shape == (3, 32, 32)
    assert torch.count_nonzero(peer[0]["images"]) > 0
    assert [r.index for r in usable_records(ds)] == [0]
