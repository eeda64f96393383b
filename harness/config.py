"""Typed run configs, validated on construction, and named presets. Saved with every run."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UsageError
from harness.estimate.flops import PRESETS
from harness.target.presets import TARGET_PRESETS

VIEWS = ("front", "top", "right")
DEVICES = ("auto", "cpu", "cuda", "mps")
COMPILE_SETTINGS = ("auto", "on", "off")   # torch.compile: auto = eager on CPU, compiled on CUDA/MPS


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise UsageError(msg)


@dataclass(kw_only=True, frozen=True)
class SynthConfig:
    """``harness synth``: a synthetic DeepCAD-style dataset, or one imported from DeepCAD cad_json."""

    out: Path
    models: int = 1100
    seed: int = 0
    views: tuple[str, ...] = VIEWS
    val_models: int | None = None      # default: one model in eleven, at least one
    size: int = 512
    overwrite: bool = False
    workers: int | None = None         # default: every core
    ray_address: str | None = None     # render on this Ray cluster; its nodes write to OUT at the same path
    from_deepcad: Path | None = None
    limit: int | None = None
    split_file: Path | None = None

    def __post_init__(self) -> None:
        _require(self.models >= 1 or self.from_deepcad is not None, "--models must be at least 1")
        _require(all(v in VIEWS for v in self.views) and len(self.views) >= 1,
                 f"--views must be a comma-separated subset of {','.join(VIEWS)}")
        _require(len(set(self.views)) == len(self.views), "--views lists a view twice")
        _require(16 <= self.size <= 4096, "--size must be between 16 and 4096")
        _require(self.val_models is None or self.val_models >= 0, "--val-models must be 0 or more")
        _require(self.workers is None or self.workers >= 1, "--workers must be at least 1")

    def val_count(self, n_models: int) -> int:
        if self.val_models is not None:
            _require(self.val_models < n_models, "--val-models must leave at least one train model")
            return self.val_models
        return max(1, round(n_models / 11)) if n_models > 1 else 0


@dataclass(kw_only=True, frozen=True)
class CheckConfig:
    """Parameters of the check catalogue (recorded in every run's metadata)."""

    max_length: int = 2048             # the target model's context, in tokens
    image_tokens: int = 728            # tokens one image takes in that context
    template: str = "llama"            # chat template whose label masking is simulated
    tokenizer: Path | None = None      # tokenizer.json or SentencePiece .model; None: proxy byte tokenizer
    legacy: bool | None = None         # the tokenizer's transformers ``legacy`` flag; None: its own default
    model_pattern: str = r"^(?P<model>.+?)_(?P<view>[^_]+)\.[A-Za-z0-9]+$"  # model from the image name
    views: tuple[str, ...] = VIEWS     # views each model is expected to have
    max_pixels: int = 178_956_970      # Pillow's default decompression-bomb limit
    phash_distance: int = 4            # near duplicates: Hamming distance of 64-bit perceptual hashes
    robust_z: float = 6.0              # distribution outliers: |robust z| above this
    loader_samples: int = 50

    def __post_init__(self) -> None:
        _require(self.max_length > 0, "--max-length must be positive")
        # image_tokens >= max_length is allowed: it is the classic misconfiguration (TinyLLaVA's default
        # model_max_length 512 against SigLIP-384's 728 image tokens), reported as a finding, not refused.
        _require(self.image_tokens >= 0, "--image-tokens must be 0 or more")
        _require(self.max_pixels > 0, "--max-pixels must be positive")
        _require(self.loader_samples >= 0, "--loader-samples must be 0 or more")


@dataclass(kw_only=True, frozen=True)
class TrainConfig:
    """Test 4: the proxy CNN-GRU trained on a few samples."""

    samples: int | None = 20           # None: the whole train split and the whole val split
    epochs: int = 5
    batch_size: int = 4
    lr: float = 1e-3
    device: str = "auto"
    seed: int = 0
    image_size: int = 384
    seq_len: int = 256                 # proxy's token window (answer tokens beyond it are not trained)
    workers: int = 0
    compile: str = "auto"              # auto | on | off

    def __post_init__(self) -> None:
        _require(self.samples is None or self.samples >= 2, "--samples must be at least 2 or 'all'")
        _require(self.epochs >= 1, "--epochs must be at least 1")
        _require(self.batch_size >= 1, "--batch-size must be at least 1")
        _require(self.lr > 0, "--lr must be positive")
        _require(self.device in DEVICES, f"--device must be one of {', '.join(DEVICES)}")
        _require(self.compile in COMPILE_SETTINGS, f"--compile must be one of {', '.join(COMPILE_SETTINGS)}")
        _require(self.seq_len >= 16, "the proxy sequence length must be at least 16")

    def split_counts(self) -> tuple[int | None, int | None]:
        """(train, val) sample counts: 20 -> 16 + 4, as in the seed; None means the whole split."""
        if self.samples is None:
            return None, None
        val = max(1, self.samples // 5)
        return self.samples - val, val


@dataclass(kw_only=True, frozen=True)
class DatasetRun:
    """What every command over a dataset shares: where it is, where the run goes, how to check and where."""

    dataset: Path | None = None        # None: the default synthetic dataset (made once, cached)
    train: Path | None = None
    val: Path | None = None
    images: Path | None = None
    out: Path | None = None
    checks: CheckConfig = field(default_factory=CheckConfig)
    workers: int | None = None         # parallel workers for the image pass
    ray_address: str | None = None     # join this cluster; its nodes read the images at the same path

    def __post_init__(self) -> None:
        _require(self.workers is None or self.workers >= 1, "--workers must be at least 1")


@dataclass(kw_only=True, frozen=True)
class DryrunConfig(DatasetRun):
    """``harness dryrun``: the four tests; the image pass in-process unless workers or a cluster are given."""

    train_cfg: TrainConfig = field(default_factory=TrainConfig)
    full_epochs: int = 3
    write_clean: Path | None = None    # write the sound records here (harness.runs.clean)

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.full_epochs >= 1, "--full-epochs must be at least 1")


@dataclass(kw_only=True, frozen=True)
class ValidateConfig(DatasetRun):
    """``harness validate``: tests 1 and 2 (records and images) at scale, locally or on a Ray cluster;
    by default every core, in-process below 3,000 records (Ray's start-up costs more than it saves)."""

    ship_bytes: bool = False           # the driver reads the images and ships their bytes to the workers
    write_clean: Path | None = None    # write the sound records here (harness.runs.clean)


@dataclass(kw_only=True, frozen=True)
class LabelsConfig(DatasetRun):
    """``harness labels``: the label-mask and token-budget checks alone (``checks`` holds the template,
    tokenizer and lengths)."""


# the target-model presets: harness.estimate.flops's names first, then those only measured
TARGETS = tuple(dict.fromkeys([*PRESETS, *TARGET_PRESETS]))
TARGET_DTYPES = ("auto", "fp32", "bf16", "fp16")


AUTO_DEPTHS = (-1,)         # --target-depth auto
AUTO_DEPTH_BUDGET_S = 300.0  # auto measures the whole model when its predicted timing fits in this
AUTO_CUT_DEPTHS = (2, 4)     # else copies of these depths per tower, extrapolated


@dataclass(kw_only=True, frozen=True)
class BenchConfig:
    """``harness bench``: stage timings of the loader and the proxy training step per batch size."""

    dataset: Path | None = None        # None: the default synthetic dataset
    out: Path | None = None
    batch_sizes: tuple[int, ...] = (2, 4, 8)
    steps: int = 20                    # timed batches per measurement, after the warm-up
    warmup: int = 3
    workers: int = 0
    device: str = "auto"
    compile: str = "auto"              # auto: eager only on CPU, eager and compiled elsewhere
    target: str = "openecad-0.89b"     # a preset, or a TinyLLaVA model folder / its config.json
    target_depths: tuple[int, ...] = ()  # measure the target cut to these depths; (0,): the whole model;
                                         # AUTO_DEPTHS: the whole model when fast enough, else cut copies
    target_dtype: str = "auto"         # auto: fp32 on CPU and MPS, bf16 on CUDA
    target_params: int | None = None   # scales the preset's FLOPs to a model of this many parameters
    mfu: tuple[float, float] = (0.15, 0.35)
    full_epochs: int = 3
    image_size: int = 384
    seq_len: int = 256
    lr: float = 1e-3
    seed: int = 0
    tune_llm: str | None = None        # override the target's recipe: full, lora, frozen
    tune_vision: str | None = None
    tune_connector: str | None = None
    lora_rank: int | None = None
    memory_limit: float | None = None  # GiB the target may use: a batch predicted or measured above it does not fit
    gpu_names: tuple[str, ...] = ("RTX 4090", "A100", "H100 SXM")   # GPUs the report gives the range for
    global_batch: int = 128            # TinyLLaVA's fine-tune: 4 GPUs x 8 x 4 accumulation (lora/finetune_lora.sh)
    length_share: float = 0.99         # model_max_length holds this share of the samples
    tokenizer: Path | None = None      # counts the samples' text tokens (default: 3.5 chars per token)

    def __post_init__(self) -> None:
        from harness.estimate.devices import resolve_device

        for name in ("tune_llm", "tune_vision", "tune_connector"):
            v = getattr(self, name)
            _require(v is None or v in ("full", "lora", "frozen"),
                     f"--{name.replace('_', '-')} must be full, lora or frozen")
        _require(self.lora_rank is None or self.lora_rank >= 1, "--lora-rank must be at least 1")
        _require(self.memory_limit is None or self.memory_limit > 0, "--memory-limit must be a positive GiB figure")
        for d in self.gpu_names:
            resolve_device(d)
        _require(self.global_batch >= 1, "--global-batch must be at least 1")
        _require(0 < self.length_share <= 1, "length_share must be in (0, 1]")
        _require(len(self.batch_sizes) >= 1 and all(b >= 1 for b in self.batch_sizes),
                 "--batch-size must be a comma-separated list of positive integers")
        _require(self.steps >= 2, "--steps must be at least 2 (medians and p90 need several)")
        _require(self.warmup >= 0, "--warmup must be 0 or more")
        _require(self.workers >= 0, "--workers must be 0 or more")
        _require(self.device in DEVICES, f"--device must be one of {', '.join(DEVICES)}")
        _require(self.compile in COMPILE_SETTINGS, f"--compile must be one of {', '.join(COMPILE_SETTINGS)}")
        _require(self.target in TARGETS or Path(self.target).exists(),
                 f"--target must be one of {', '.join(TARGETS)} or a TinyLLaVA config.json / folder")
        d = self.target_depths
        _require(d in ((), (0,), AUTO_DEPTHS) or (len(set(d)) >= 2 and all(x >= 1 for x in d)),
                 "--target-depth must be 'all', 'auto' or two or more distinct depths of at least 1, e.g. 1,2")
        _require(self.target_dtype in TARGET_DTYPES, f"--target-dtype must be one of {', '.join(TARGET_DTYPES)}")
        _require(self.target_params is None or self.target_params > 0, "--target-params must be positive")
        lo, hi = self.mfu
        _require(0 < lo <= hi <= 1, "--mfu must be LOW,HIGH with 0 < LOW <= HIGH <= 1 (fractions)")
        _require(self.full_epochs >= 1, "--full-epochs must be at least 1")
        _require(16 <= self.image_size <= 4096, "--image-size must be between 16 and 4096")


@dataclass(kw_only=True, frozen=True)
class EstimateConfig:
    """``harness estimate``: training time and memory per GPU of the target on named devices, counted,
    not measured. Samples and text tokens from ``--samples``/``--text-tokens`` or from a dataset."""

    target: str = "openecad-0.89b"     # a preset, or a TinyLLaVA model folder / its config.json
    devices: tuple[str, ...] = ("A100",)
    gpus: int = 1
    samples: int | None = None         # with text_tokens: no dataset needed
    text_tokens: float | None = None   # mean text tokens per sample (prompt + answer + template)
    epochs: int = 1
    dataset: Path | None = None
    tokenizer: Path | None = None      # counts the dataset's text tokens (default: 3.5 chars per token)
    batch_size: int = 4                # per GPU, for the memory figure
    dtype: str = "bf16"                # the training precision on the GPU (memory per element)
    mfu: tuple[float, float] = (0.15, 0.35)
    measured: Path | None = None       # a target.arrow measured on a GPU: its MFU replaces the assumed range
    tune_llm: str | None = None        # override the target's recipe: full, lora, frozen
    tune_vision: str | None = None
    tune_connector: str | None = None
    lora_rank: int | None = None
    out: Path | None = None

    def __post_init__(self) -> None:
        from harness.estimate.devices import resolve_device

        _require(self.target in TARGETS or Path(self.target).exists(),
                 f"--target must be one of {', '.join(TARGETS)} or a TinyLLaVA config.json / folder")
        _require(len(self.devices) >= 1, "--device: name at least one device")
        for d in self.devices:
            resolve_device(d)
        _require(self.gpus >= 1, "--gpus must be at least 1")
        _require(self.epochs >= 1, "--epochs must be at least 1")
        _require(self.batch_size >= 1, "--batch-size must be at least 1")
        _require(self.dtype in ("bf16", "fp16", "fp32"), "--dtype must be bf16, fp16 or fp32")
        given = self.samples is not None, self.text_tokens is not None
        if self.dataset is None:
            _require(all(given), "give DATASET, or both --samples and --text-tokens")
        else:
            _require(not any(given), "--samples/--text-tokens and DATASET exclude each other")
        _require(self.tokenizer is None or self.dataset is not None, "--tokenizer counts DATASET's tokens: give one")
        _require(self.samples is None or self.samples >= 1, "--samples must be at least 1")
        _require(self.text_tokens is None or self.text_tokens >= 0, "--text-tokens must be 0 or more")
        lo, hi = self.mfu
        _require(0 < lo <= hi <= 1, "--mfu must be LOW,HIGH with 0 < LOW <= HIGH <= 1 (fractions)")
        _require(self.measured is None or Path(self.measured).is_file(), f"--measured {self.measured}: no such file")
        for name in ("tune_llm", "tune_vision", "tune_connector"):
            v = getattr(self, name)
            _require(v is None or v in ("full", "lora", "frozen"),
                     f"--{name.replace('_', '-')} must be full, lora or frozen")
        _require(self.lora_rank is None or self.lora_rank >= 1, "--lora-rank must be at least 1")


# Presets ---------------------------------------------------------------------------------------------
def deepcad_1k(out: Path) -> SynthConfig:
    """The seed's DeepCAD 1K: 1,100 models, 3 views, 1,000 train / 100 val models."""
    return SynthConfig(out=out, models=1100, seed=0)
