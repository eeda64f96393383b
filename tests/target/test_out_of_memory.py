"""Out of memory is a "does not fit" row, never a crash: ``--memory-limit`` on the CPU with a tiny target.

The target's vocabulary is wide, so its loss dominates each sample's memory (~100 MB a sample at 800
positions): a limit just under batch 2's predicted peak leaves batch 1 a margin of a whole sample."""
import os
from dataclasses import replace

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("torch")

from harness.estimate.architecture import architecture  # noqa: E402
from harness.estimate.memory import memory  # noqa: E402
from harness.target.measure import measure_target  # noqa: E402
from tests.estimate.tiny import tiny  # noqa: E402

TOKENS = 800


def _spec():
    spec = tiny("lora both")
    return replace(spec, text_config={**spec.text_config, "vocab_size": 8000})


def _predict(spec, batch):
    return memory(architecture(spec), TOKENS, "fp32").peak(batch)


def test_a_batch_over_the_limit_is_a_row_with_fits_false_and_the_largest_that_fits_runs():
    spec = _spec()
    limit = _predict(spec, 2) - 1
    rows = measure_target(spec, [1, 2], None, "cpu", "fp32", 2, 0, TOKENS, memory_limit=limit,
                          predict_peak=_predict)
    one, two = rows
    assert (one["batch_size"], one["fits"]) == (1, True) and one["step_seconds"] > 0
    assert one["predicted_peak_memory_bytes"] == _predict(spec, 1) and one["peak_memory_bytes"] > 0
    assert (two["batch_size"], two["fits"], two["step_seconds"]) == (2, False, None)
    assert two["memory_source"].startswith("not run: predicted peak")


def test_a_tiny_limit_refuses_everything_and_the_extrapolation_follows():
    spec = _spec()
    rows = measure_target(spec, [1, 2], [1, 2], "cpu", "fp32", 2, 0, TOKENS, memory_limit=1 << 20,
                          predict_peak=_predict)
    assert len(rows) == 3 * 2 + 2 and all(r["fits"] is False and r["step_seconds"] is None for r in rows)
    full = [r for r in rows if r["kind"] == "extrapolated"]
    assert [r["predicted_peak_memory_bytes"] for r in full] == [_predict(spec, 1), _predict(spec, 2)]


def test_a_step_measured_over_the_limit_stops_and_does_not_fit():
    """No prediction to refuse it: the step runs, its measured peak crosses the limit, MemoryError."""
    spec = _spec()
    rows = measure_target(spec, [1], None, "cpu", "fp32", 2, 0, TOKENS, memory_limit=1 << 20)
    (row,) = rows
    assert row["fits"] is False and row["step_seconds"] is None and row["peak_memory_bytes"] > 1 << 20


def test_report_leads_with_the_answer_then_the_launch_flags_and_the_plot_is_written():
    """The tiny target measured at batch 1 and 2 with a limit that refuses 2: the answer names batch 1 as
    the largest that fits and batch 2 as not fitting; the command follows; the plot is a PNG."""
    import pyarrow as pa
    import torch

    from harness.bench.stages import BenchResult
    from harness.config import BenchConfig
    from harness.estimate.proxy import proxy_estimates
    from harness.results import schema
    from harness.results.plots import target_plot_png
    from harness.results.report.target import answer, launch_section, target_tables
    from harness.runs.bench import plan_for_gpus

    spec = _spec()
    cfg = BenchConfig(batch_sizes=(1, 2), memory_limit=(_predict(spec, 2) - 1) / 2**30, full_epochs=2)
    rows = measure_target(spec, [1, 2], None, "cpu", "fp32", 2, 0, TOKENS, memory_limit=_predict(spec, 2) - 1,
                          predict_peak=_predict)
    lengths = [TOKENS - 50 + i for i in range(100)]
    launch, gpu_rows = plan_for_gpus(cfg, spec, lengths, rows, torch.device("cpu"))
    proxy = [r for b in (1, 2) for r in proxy_estimates(step_seconds=0.1, batch_size=b, epochs=2,
                                                        dataset_conversations=1000, device="cpu")]
    res = BenchResult(device="cpu", compile_note="", batches=[], rows=[], estimates=proxy + gpu_rows, target=rows)
    text = "\n".join(answer(res, cfg, launch) + launch_section(launch, cfg) + target_tables(res, cfg))
    assert text.startswith("## The answer")
    assert "batch 1 fits" in text and "Largest batch that fits: **1**" in text and "does not fit: 2" in text
    assert f"ceil(1,000 / 1) x {rows[0]['step_seconds']:.2f} s x 2" in text
    assert text.index("On the listed GPUs") < text.index("## What to launch") < text.index("## Target model")
    assert {r["device"] for r in gpu_rows} == {"RTX 4090", "A100", "H100 SXM"}
    assert f"--model_max_length {launch.model_max_length}" in text and launch.model_max_length == 896
    assert "--gradient_accumulation_steps" in text and "--gradient_checkpointing True" in text
    assert "**does not fit**" in text and "predicted / measured" in text
    plot = target_plot_png(pa.Table.from_pylist(rows, schema=schema.TARGET))
    assert plot[:8] == b"\x89PNG\r\n\x1a\n" and len(plot) > 1000
