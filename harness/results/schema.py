"""Every Arrow schema the project writes, declared once. Units are in the column names.

Run metadata (config, versions, device, PIL build, git commit) is attached to each table's schema
metadata by ``with_metadata``; readers find it under the ``harness`` key as JSON.
"""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

FINDINGS = pa.schema([
    ("severity", pa.string()),
    ("check", pa.string()),
    ("split", pa.string()),
    ("record_index", pa.int64()),
    ("image", pa.string()),
    ("message", pa.string()),
])

# --write-clean: one row per (record left out, error finding that put it out); beside the clean split files.
LEFT_OUT = pa.schema([
    ("split", pa.string()),
    ("record_index", pa.int64()),       # position in the input split file (0-based)
    ("id", pa.string()),                # the record's id, null when it has none
    ("image", pa.string()),
    ("check", pa.string()),
    ("message", pa.string()),
])

TESTS = pa.schema([
    ("test", pa.string()),
    ("status", pa.string()),
    ("seconds", pa.float64()),
    ("summary", pa.string()),
])

# One row per image file referenced by a record (measured once) or present in the image folder and used by
# no record (an orphan: listed with its size, not decoded; decode_ok and the measures null).
IMAGES = pa.schema([
    ("image", pa.string()),             # path relative to the image folder, as written in the record
    ("split", pa.string()),             # split of the first record using it; null for an orphan
    ("referenced", pa.bool_()),         # used by at least one record
    ("exists", pa.bool_()),
    ("file_bytes", pa.int64()),
    ("format", pa.string()),            # "PNG", "JPEG", ... (null if unknown)
    ("width_px", pa.int64()),
    ("height_px", pa.int64()),
    ("mode", pa.string()),              # Pillow-style mode name: "RGB", "RGBA", "L", "P", "LA", "I;16"...
    ("bit_depth", pa.int64()),
    ("interlaced", pa.bool_()),
    ("decode_ok", pa.bool_()),
    ("decode_error", pa.string()),      # why it failed (strict: CRC, truncation, trailing data, limits)
    ("decode_problem", pa.string()),    # class of the problem, null if none: image_pass.PROBLEMS
    ("decoded_bytes", pa.int64()),      # H*W*3 once decoded to RGB uint8
    ("decode_path", pa.string()),       # "kernel" (numba PNG) or "pillow"
    ("pixel_hash", pa.string()),        # exact-duplicate key: 128-bit hash of decoded pixels + shape (32 hex)
    ("phash", pa.uint64()),             # 64-bit perceptual hash (DCT of 32x32 grey)
    ("brightness_mean", pa.float64()),  # 0..255 grey mean
    ("contrast_std", pa.float64()),     # 0..255 grey std
    ("entropy_bits", pa.float64()),     # Shannon entropy of the grey histogram
    ("blur_laplacian_var", pa.float64()),
    ("colorfulness", pa.float64()),     # mean |R-G|+|G-B| (0 for grey content)
    ("node", pa.string()),              # Ray node id or host that measured it
    ("measure_seconds", pa.float64()),
    # What convert("RGB") hides, measured through Pillow only where it can matter (null elsewhere):
    ("alpha_min", pa.int64()),          # smallest alpha (0..255) of an image with alpha or a tRNS chunk
    ("transparent_fraction", pa.float64()),  # share of pixels with alpha < 255 (same images)
    ("clipped_fraction", pa.float64()), # 16/32-bit greyscale (I;16, I, F): share of pixels above 255,
                                        # which convert("RGB") clips to white
    ("exif_orientation", pa.int64()),   # EXIF Orientation tag (1..8) when present; TinyLLaVA ignores it
    ("measure_scale", pa.int64()),      # the measures' pixels were 1/this of full size: 1, or 2/4/8 for a
                                        # large JPEG decoded in draft mode (DCT scaling; image_pass docstring)
])

# One row per record of each split.
RECORDS = pa.schema([
    ("split", pa.string()),
    ("record_index", pa.int64()),
    ("id", pa.string()),
    ("image", pa.string()),
    ("model", pa.string()),             # model id taken from the image name by the leakage pattern
    ("sound", pa.bool_()),              # no error finding: used by the loader and training tests
    ("turns", pa.int64()),
    ("prompt_chars", pa.int64()),
    ("answer_chars", pa.int64()),
    ("text_bytes", pa.int64()),         # UTF-8 bytes of every turn's text
    ("prompt_tokens", pa.int64()),
    ("answer_tokens", pa.int64()),
    ("total_tokens", pa.int64()),       # template-formatted sample with image tokens counted
    ("truncated_answer_tokens", pa.int64()),  # answer tokens --max-length would cut
    ("placeholders", pa.int64()),       # occurrences of <image> in the whole record
    ("supervised_tokens_correct", pa.int64()),
    ("supervised_tokens_template", pa.int64()),
])

BATCHES = pa.schema([
    ("epoch", pa.int64()),
    ("step", pa.int64()),
    ("split", pa.string()),
    ("loss", pa.float64()),
    ("seconds", pa.float64()),
    ("samples", pa.int64()),
    ("data_wait_seconds", pa.float64()),
])

EPOCHS = pa.schema([
    ("epoch", pa.int64()),
    ("train_loss", pa.float64()),
    ("val_loss", pa.float64()),
    ("train_seconds", pa.float64()),
    ("val_seconds", pa.float64()),
])

ESTIMATES = pa.schema([
    ("basis", pa.string()),             # "proxy" | "target"
    ("models", pa.int64()),             # null for the dataset row
    ("conversations", pa.int64()),
    ("batch_size", pa.int64()),
    ("epochs", pa.int64()),
    ("steps_per_epoch", pa.int64()),
    ("step_seconds", pa.float64()),
    ("total_seconds", pa.float64()),
    ("scale", pa.string()),             # "dataset", "1K", "10K", "50K"
    ("device", pa.string()),            # measured device, or the target device for basis "target"
    ("mfu", pa.float64()),              # assumed MFU (target rows), null for proxy rows
    ("assumption", pa.string()),        # the formula / assumption behind the number
    ("needed_samples_per_s", pa.float64()),   # target rows: samples/s the device consumes at that MFU
    ("loader_samples_per_s", pa.float64()),   # measured loader throughput it is compared with
    ("loader_keeps_up", pa.bool_()),          # loader_samples_per_s >= needed_samples_per_s
    # harness estimate (basis "target", null elsewhere): a range, memory per GPU, and each number's basis
    ("gpus", pa.int64()),                     # data-parallel GPUs; batch_size is per GPU
    ("samples", pa.int64()),                  # training samples per epoch (= conversations)
    ("total_seconds_low", pa.float64()),      # at the high end of the MFU range
    ("total_seconds_high", pa.float64()),     # at the low end of the MFU range
    ("mfu_low", pa.float64()),
    ("mfu_high", pa.float64()),
    ("flops_per_sample", pa.float64()),       # one training step's FLOPs per sample (mean over samples)
    ("tokens_per_sample", pa.float64()),      # mean LM positions per sample, image tokens included
    ("peak_memory_bytes", pa.int64()),        # modelled peak per GPU at batch_size
    ("memory_capacity_bytes", pa.int64()),    # the device's memory
    ("fits", pa.bool_()),                     # peak within the usable share of the device's memory
    ("max_batch_size", pa.int64()),           # largest per-GPU batch that fits (0: none)
    ("flops_assumption", pa.string()),        # how flops_per_sample was counted
    ("memory_assumption", pa.string()),       # the memory model behind peak_memory_bytes and fits
    ("samples_assumption", pa.string()),      # where samples came from
])

# Test 3: one row per dry run, what the loader delivered and how its image-text pairing was verified.
LOADER = pa.schema([
    ("status", pa.string()),
    ("seconds", pa.float64()),
    ("batches", pa.int64()),
    ("samples", pa.int64()),
    ("batch_size", pa.int64()),
    ("image_shape", pa.list_(pa.int64())),    # per sample: channels, height, width
    ("image_dtype", pa.string()),
    ("token_shape", pa.list_(pa.int64())),    # per sample: tokens
    ("pairs_checked", pa.int64()),
    ("pairs_ok", pa.int64()),
    ("max_pixel_error", pa.float64()),        # normalised units, against Pillow's decode of the same file
    ("decoded_by_kernel", pa.int64()),
    ("decoded_by_pillow", pa.int64()),
    ("blank_images", pa.int64()),             # records without an image: TinyLLaVA's zero tensor
])

BENCH = pa.schema([
    ("batch_size", pa.int64()),
    ("stage", pa.string()),
    ("median_seconds", pa.float64()),
    ("p90_seconds", pa.float64()),
    ("samples_per_s", pa.float64()),
    ("pipeline", pa.string()),          # "harness" | "torchvision"
    ("device", pa.string()),
    ("compiled", pa.bool_()),
    ("ratio_vs_baseline", pa.float64()),
    ("peak_memory_bytes", pa.int64()),
    ("data_wait_share", pa.float64()),
])

METADATA_KEY = b"harness"


def with_metadata(schema: pa.Schema, meta: dict[str, Any]) -> pa.Schema:
    return schema.with_metadata({METADATA_KEY: json.dumps(meta, default=str).encode()})


def read_metadata(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}

# harness bench --target-depth: the target model's training step with random weights, one row per
# (kind, batch size, depths); "extrapolated" rows are the per-block fit evaluated at full depth.
TARGET = pa.schema([
    ("kind", pa.string()),              # "measured" | "extrapolated"
    ("batch_size", pa.int64()),
    ("llm_layers", pa.int64()),
    ("vision_layers", pa.int64()),
    ("step_seconds", pa.float64()),     # median over the timed steps (null: did not fit)
    ("step_seconds_p90", pa.float64()),
    ("peak_memory_bytes", pa.int64()),
    ("memory_source", pa.string()),     # how peak_memory_bytes was taken
    ("fits", pa.bool_()),               # false: out of memory; null: unknown (extrapolated off CUDA)
    ("device", pa.string()),
    ("dtype", pa.string()),
    ("recipe", pa.string()),
    ("tokens_per_sample", pa.int64()),  # LM positions per sample, image tokens included
    ("predicted_peak_memory_bytes", pa.int64()),   # harness.estimate.memory at this depth, batch and dtype
])
