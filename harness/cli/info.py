"""``harness info``: what this installation runs on (PIL build, JIT, inflate binding, device)."""
from __future__ import annotations

import json

import click

from harness.results.metadata import pil_flavour, versions


@click.command("info")
@click.option("--short", is_flag=True, help="One line: the PIL build and the device.")
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON.")
def command(short: bool, as_json: bool) -> None:
    """Show the versions, the active PIL build (pillow-simd or Pillow) and the compute device."""
    from harness.train.device import describe
    from kernels._jit import JIT_ENABLED

    pil = pil_flavour()
    info = {"versions": versions(), "pil": pil, "device": describe(), "numba_jit": JIT_ENABLED}
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    pil_line = f"PIL: {pil['name']} {pil['version']}" + (" (AVX2 CPU)" if pil["cpu_avx2"] else "")
    dev = info["device"]
    dev_line = "device: " + (dev.get("cuda") or ("mps" if dev.get("mps") else f"cpu x{dev['cpu_count']}"))
    if short:
        click.echo(f"harness {info['versions']['harness']}: {pil_line}; {dev_line}")
        return
    for k, v in info["versions"].items():
        click.echo(f"{k:12s} {v}")
    click.echo(pil_line)
    click.echo(dev_line)
    click.echo(f"numba JIT: {'on' if JIT_ENABLED else 'off (HARNESS_NO_JIT)'}")
