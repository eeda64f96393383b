"""Test 4: train the proxy model on a few samples and measure every step.

``simulate`` sets up (seed, device, model, optimiser, loaders) and ``train`` runs the epochs. Each
step's ``seconds`` is its whole wall time including ``data_wait_seconds`` (time blocked on the loader,
host-to-device copy included), so an epoch's steps sum to its duration and a step-time estimate
carries loader stalls with it.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from harness.config import TrainConfig
from harness.train.device import peak_memory, pick_device, seeded, set_threads, synchronize, use_compile
from harness.train.model import ProxyVLM, count_parameters

LoaderFactory = Callable[..., Iterable[dict]]
BATCH_KEYS = ("images", "input_ids", "labels")


@dataclass(kw_only=True)
class TrainResult:
    batches: list[dict]                   # BATCHES rows
    epochs: list[dict]                    # EPOCHS rows
    params: int
    device: str
    compiled: bool
    threads: int
    train_samples: int
    val_samples: int
    first_batch_seconds: float            # includes lazy init and, when compiled, compilation
    steady_step_seconds: float            # median train step after the first, data waits included
    steady_compute_seconds: float         # the same median without the data wait
    samples_per_s: float                  # batch_size / steady_step_seconds
    data_wait_seconds: float              # mean train-step wait for data (first step excluded)
    peak_memory_bytes: int
    peak_memory_kind: str                 # "cuda max_memory_allocated" or "process peak RSS"
    seconds: float
    notes: list[str] = field(default_factory=list)


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: batch[k].to(device, non_blocking=True) for k in BATCH_KEYS}


def waited(loader: Iterable[dict], then: Callable[[dict], dict] | None = None) -> Iterator[tuple[dict, float]]:
    """(batch, seconds blocked getting it) for every batch of one pass; ``then`` (a copy to the device)
    runs inside the timed span. The one timed iteration: the bench's loader timings use it too."""
    it = iter(loader)
    while True:
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            return
        if then is not None:
            batch = then(batch)
        yield batch, time.perf_counter() - t0


def timed_batches(loader: Iterable[dict], device: torch.device) -> Iterator[tuple[dict, float]]:
    """(batch on the device, seconds blocked getting it, host-to-device copy included)."""
    def on_device(batch: dict) -> dict:
        batch = to_device(batch, device)
        synchronize(device)
        return batch

    return waited(loader, on_device)


def train_step(model: Callable, opt: torch.optim.Optimizer, batch: dict) -> torch.Tensor:
    """Forward, backward, optimiser step; returns the loss still on the device."""
    loss = model(batch["images"], batch["input_ids"], batch["labels"])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


@torch.no_grad()
def eval_step(model: Callable, batch: dict) -> torch.Tensor:
    return model(batch["images"], batch["input_ids"], batch["labels"])


def run_pass(step: Callable[[dict], torch.Tensor], loader: Iterable[dict], device: torch.device,
             epoch: int, split: str) -> list[dict]:
    """One pass over a loader; one BATCHES row per step (loss read back because every batch is logged)."""
    rows = []
    t_prev = time.perf_counter()
    for i, (batch, wait) in enumerate(timed_batches(loader, device)):
        loss = step(batch).item()                     # .item() synchronises the device
        now = time.perf_counter()
        rows.append({"epoch": epoch, "step": i, "split": split, "loss": loss, "seconds": now - t_prev,
                     "samples": int(batch["images"].shape[0]), "data_wait_seconds": wait})
        t_prev = now
    return rows


def weighted_loss(rows: list[dict]) -> float | None:
    n = sum(r["samples"] for r in rows)
    return sum(r["loss"] * r["samples"] for r in rows) / n if n else None


@dataclass(kw_only=True)
class Run:
    """What ``train`` needs: a loss function to step, an optimiser, and per-epoch loader makers."""

    loss_fn: Callable
    opt: torch.optim.Optimizer
    device: torch.device
    train_loader: Callable[[int], Iterable[dict]]      # epoch (from 1) -> that epoch's batches
    val_loader: Callable[[int], Iterable[dict]] | None
    epochs: int


def train(run: Run) -> tuple[list[dict], list[dict]]:
    """The to-do list: for each epoch, train over the train split, then evaluate on the val split."""
    batches, epochs = [], []
    for epoch in range(1, run.epochs + 1):
        t0 = time.perf_counter()
        train_rows = run_pass(lambda b: train_step(run.loss_fn, run.opt, b), run.train_loader(epoch),
                              run.device, epoch, "train")
        t1 = time.perf_counter()
        val_rows = [] if run.val_loader is None else run_pass(
            lambda b: eval_step(run.loss_fn, b), run.val_loader(epoch), run.device, epoch, "val")
        t2 = time.perf_counter()
        batches += train_rows + val_rows
        epochs.append({"epoch": epoch, "train_loss": weighted_loss(train_rows),
                       "val_loss": weighted_loss(val_rows), "train_seconds": t1 - t0,
                       "val_seconds": (t2 - t1) if val_rows else None})
    return batches, epochs


def default_loader_factory() -> LoaderFactory:
    from harness.loader import Loader

    return Loader


def loader_maker(factory: LoaderFactory, dataset: Any, records: list, cfg: TrainConfig, *, shuffle: bool,
                 pin: bool) -> Callable[[int], Iterable[dict]]:
    """One loader (its buffers are reused across epochs) and, per epoch, its order for that epoch:
    ``set_epoch`` where the loader has it (the harness Loader), else the loader's own seeded generator
    moves on between passes (a torch DataLoader)."""
    split = records[0].split if records else "train"
    loader = factory(dataset, split=split, batch_size=cfg.batch_size, image_size=cfg.image_size,
                     workers=cfg.workers, shuffle=shuffle, seed=cfg.seed, pin_memory=pin,
                     drop_last=False, max_length=cfg.seq_len, records=list(records))

    def for_epoch(epoch: int) -> Iterable[dict]:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch - 1)
        return loader
    return for_epoch


def simulate(cfg: TrainConfig, dataset: Any, train_records: list, val_records: list, *,
             loader_factory: LoaderFactory | None = None) -> TrainResult:
    """Seed, build the proxy, train it for ``cfg.epochs`` and summarise the timings."""
    t_start = time.perf_counter()
    if not train_records:
        raise ValueError("no train records to train on")
    device = pick_device(cfg.device)
    threads = set_threads()
    compiled = use_compile(cfg.compile, device)
    factory = loader_factory or default_loader_factory()
    pin = device.type == "cuda"
    with seeded(cfg.seed, device):
        model = ProxyVLM().to(device)
        loss_fn = torch.compile(model.loss) if compiled else model.loss
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        run = Run(loss_fn=loss_fn, opt=torch.optim.AdamW(model.parameters(), lr=cfg.lr), device=device,
                  train_loader=loader_maker(factory, dataset, train_records, cfg, shuffle=True, pin=pin),
                  val_loader=loader_maker(factory, dataset, val_records, cfg, shuffle=False, pin=pin)
                  if val_records else None, epochs=cfg.epochs)
        batches, epochs = train(run)
    return summarise(cfg, batches, epochs, model=model, device=device, compiled=compiled, threads=threads,
                     train_samples=len(train_records), val_samples=len(val_records),
                     seconds=time.perf_counter() - t_start)


def summarise(cfg: TrainConfig, batches: list[dict], epochs: list[dict], *, model: torch.nn.Module,
              device: torch.device, compiled: bool, threads: int, train_samples: int, val_samples: int,
              seconds: float) -> TrainResult:
    train_rows = [b for b in batches if b["split"] == "train"]
    steady = train_rows[1:] or train_rows
    step_s = statistics.median(b["seconds"] for b in steady)
    peak, kind = peak_memory(device)
    notes = []
    if not compiled and device.type == "cpu" and cfg.compile == "auto":
        notes.append("torch.compile skipped on CPU (compile=auto): measured 0.92x eager after a 22 s compile")
    if len(train_rows) < 2:
        notes.append("a single train step: the steady-state time includes first-step overheads")
    return TrainResult(
        batches=batches, epochs=epochs, params=count_parameters(model), device=device.type,
        compiled=compiled, threads=threads, train_samples=train_samples, val_samples=val_samples,
        first_batch_seconds=train_rows[0]["seconds"], steady_step_seconds=step_s,
        steady_compute_seconds=statistics.median(b["seconds"] - b["data_wait_seconds"] for b in steady),
        samples_per_s=cfg.batch_size / step_s if step_s > 0 else float("inf"),
        data_wait_seconds=statistics.fmean(b["data_wait_seconds"] for b in steady),
        peak_memory_bytes=peak, peak_memory_kind=kind, seconds=seconds, notes=notes)
