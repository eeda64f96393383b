"""Loader checks: test 3 of the dry run (``harness.loader.check.check_loader``) makes these findings.

Declared here, without a function (kind ``loader``: the runner never runs them), so they are in the check
catalogue every run records and test 3 makes its findings through these specs. Torch-free: validation
imports the catalogue without torch.
"""
from __future__ import annotations

from harness.checks.registry import declare

shapes = declare("loader.shapes", kind="loader", severity="error",
                 description="a batch whose images are not (3, image_size, image_size) float32, or whose input_ids, "
                             "labels and attention mask differ in shape: the model cannot take it")
pairing = declare("loader.pairing", kind="loader", severity="error",
                  description="a loader sample whose image (decoded again through Pillow) or answer tokens do not "
                              "match its record: images and texts are mispaired")
count = declare("loader.count", kind="loader", severity="error",
                description="the loader delivered a different number of samples than there are sound records")
