"""The memory model against the tensor memory torch allocates during real training steps of the tiny
model on this CPU (every storage created, until freed, on top of the parameters), and what "fits" means."""
import os
import weakref

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")

from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402

from harness.estimate.architecture import architecture  # noqa: E402
from harness.estimate.devices import Device  # noqa: E402
from harness.estimate.memory import USABLE, Memory, memory  # noqa: E402
from harness.estimate.training import Workload, assumed_mfu, estimate_rows  # noqa: E402
from harness.target.model import build, synthetic_batch  # noqa: E402
from tests.estimate.tiny import tiny  # noqa: E402


class LiveBytes(TorchDispatchMode):
    """Peak bytes of live tensor storage: each storage an op creates counts until it is freed."""

    def __init__(self, base: int) -> None:
        super().__init__()
        self.live = self.peak = base
        self.sizes: dict[int, int] = {}

    def _free(self, key: int) -> None:
        self.live -= self.sizes.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                st = t.untyped_storage()
                if st._cdata not in self.sizes:
                    self.sizes[st._cdata] = st.nbytes()
                    self.live += st.nbytes()
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(st, self._free, st._cdata)
        return out


def measured_peak(spec, batch_size: int, tokens: int) -> int:
    built = build(spec, "cpu", torch.float32)
    batch = synthetic_batch(spec, batch_size, tokens)
    base = sum(p.untyped_storage().nbytes() for p in built.model.parameters())
    with LiveBytes(base) as live:
        for _ in range(2):          # the second step holds AdamW's states
            built.model(**batch).backward()
            built.optimizer.step()
            built.optimizer.zero_grad(set_to_none=True)
    return live.peak


@pytest.mark.parametrize("recipe", ["lora both", "finetune"])
def test_memory_model_within_10_percent_of_measured(recipe):
    spec = tiny(recipe)
    tokens = 1024
    predicted = memory(architecture(spec), tokens, "fp32").peak(4)
    assert predicted == pytest.approx(measured_peak(spec, 4, tokens), rel=0.10)


def test_largest_batch_and_fits():
    m = Memory(weights=10, gradients=2, optimizer=4, per_sample=3)
    assert m.peak(2) == 22
    assert m.largest_batch(100) == int((USABLE * 100 - 16) // 3)
    assert m.largest_batch(10) == 0                       # not even the weights fit


def test_rows_say_does_not_fit_when_memory_exceeds_the_device():
    arch = architecture(tiny("finetune"))
    small = Device(name="tiny GPU", table_name="L4", peak_tflops=121.0, memory_bytes=64 * 2**20)
    big = Device(name="big GPU", table_name="H200", peak_tflops=989.0, memory_bytes=140 * 2**30)
    work = Workload(samples=1000, epochs=1, tokens=(1024.0,), source="test")
    rows = estimate_rows(arch=arch, work=work, devices=[small, big], gpus=1, batch_size=8, dtype="bf16",
                         mfu=assumed_mfu(), max_length=4096)
    by = {r["device"]: r for r in rows if r["scale"] == "dataset"}
    assert by["tiny GPU"]["peak_memory_bytes"] > 64 * 2**20 and by["tiny GPU"]["fits"] is False
    assert by["tiny GPU"]["max_batch_size"] < 8
    assert by["big GPU"]["fits"] is True and by["big GPU"]["max_batch_size"] > 8
    assert by["big GPU"]["peak_memory_bytes"] == by["tiny GPU"]["peak_memory_bytes"]   # same model, same batch
