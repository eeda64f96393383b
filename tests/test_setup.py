"""The set-up's promise: where pillow-simd is installed, it is the PIL that imports, and ``harness info``
reports that PIL. Guards against pip putting stock Pillow's files back over pillow-simd's (torchvision
depends on Pillow) while both distributions stay listed; ``scripts/pillow_simd.sh`` repairs that."""
from __future__ import annotations

import json
from importlib import metadata

import PIL
import pytest
from click.testing import CliRunner

from harness.cli import main


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_installed_pillow_simd_is_the_pil_that_imports():
    simd = _dist_version("pillow-simd")
    if simd is None:
        pytest.skip("stock Pillow only: pillow-simd could not be built here")
    assert PIL.__version__ == simd and "post" in PIL.__version__, (
        f"pillow-simd {simd} is installed but PIL {PIL.__version__} imports (stock Pillow's files over "
        f"pillow-simd's?): run bash scripts/pillow_simd.sh")


def test_harness_info_reports_the_imported_pil():
    res = CliRunner().invoke(main, ["info", "--json"])
    assert res.exit_code == 0, res.output
    pil = json.loads(res.output)["pil"]
    assert pil["version"] == PIL.__version__
    assert pil["name"] == ("pillow-simd" if "post" in PIL.__version__ else "Pillow")
    assert pil["simd"] is (pil["name"] == "pillow-simd")
