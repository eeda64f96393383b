"""Image outliers against the dataset's own distribution: robust z-scores (median / MAD) of the measures.

An image is dark, light, low-contrast, low-information, blurry or grey only compared with the rest of the
set: |z| > ``CheckConfig.robust_z`` on the side that names the problem. The spread is floored per measure,
so a set whose images are all alike (clean renders: white background, grey faces) has no outliers from
differences too small to see; with fewer than ``MIN_IMAGES`` measured images nothing is judged.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from harness.checks.findings import Finding
from harness.checks.registry import CheckSpec, register

MIN_IMAGES = 8
MAD_TO_SIGMA = 1.4826   # MAD of a normal distribution times this is its standard deviation


def robust_z(values: np.ndarray, floor: float) -> np.ndarray:
    """(x - median) / max(1.4826 * MAD, floor)."""
    med = np.median(values)
    sigma = max(MAD_TO_SIGMA * float(np.median(np.abs(values - med))), floor)
    return (values - med) / sigma


def _outliers(check: str, column: str, side: int, floor: float, word: str, log: bool = False) -> CheckSpec:
    """Register the outlier check ``check`` on ``column`` (``side`` +1: high values, -1: low); returns its spec."""
    def fn(dataset, images, ctx) -> Iterable[Finding]:
        ok = images.filter(images.column("decode_ok")) if images.num_rows else images
        if ok.num_rows < MIN_IMAGES:
            return
        x = np.asarray(ok.column(column).to_numpy(zero_copy_only=False), dtype=np.float64)
        if log:
            x = np.log1p(np.maximum(x, 0.0))
        z = robust_z(x, floor) * side
        names, splits = ok.column("image").to_pylist(), ok.column("split").to_pylist()
        raw = ok.column(column).to_pylist()
        med = float(np.median(ok.column(column).to_numpy(zero_copy_only=False)))
        for i in np.nonzero(z > ctx.cfg.robust_z)[0]:
            yield spec.finding(f"{word}: {column} {raw[i]:.4g} against the dataset's median {med:.4g} "
                               f"(robust z {side * z[i]:+.1f})", split=splits[i], image=names[i])
    fn.__name__ = check.replace(".", "_")
    spec = register(check, kind="dataset", severity="warning", pictures=True, column=column,
                    side="high" if side > 0 else "low",
                    mad_floor=floor, log_scale=log, min_images=MIN_IMAGES,
                    description=f"{word} compared with the dataset (robust z of {column})")(fn)
    return spec


# Floors are the smallest spread worth judging in each measure's unit: a few grey levels, a fraction of a bit.
dark = _outliers("dataset.dark", "brightness_mean", -1, 8.0, "darker than the rest")
light = _outliers("dataset.light", "brightness_mean", +1, 8.0, "lighter than the rest")
low_contrast = _outliers("dataset.low_contrast", "contrast_std", -1, 4.0, "lower contrast than the rest")
low_information = _outliers("dataset.low_information", "entropy_bits", -1, 0.15, "less information than the rest")
blurry = _outliers("dataset.blurry", "blur_laplacian_var", -1, 0.25, "blurrier than the rest", log=True)
grey_content = _outliers("dataset.grey_content", "colorfulness", -1, 3.0, "greyer than the rest")
