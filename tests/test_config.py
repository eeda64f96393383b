import json
from pathlib import Path

import pytest

from harness.checks.registry import Registry
from harness.config import CheckConfig, DryrunConfig, SynthConfig, TrainConfig
from harness.errors import UsageError
from harness.results.metadata import run_metadata


def test_defaults_match_the_seed():
    assert TrainConfig().split_counts() == (16, 4)
    assert TrainConfig(samples=None).split_counts() == (None, None)
    assert SynthConfig(out=Path("x")).val_count(1100) == 100
    assert SynthConfig(out=Path("x")).val_count(5) == 1


@pytest.mark.parametrize("make", [
    lambda: TrainConfig(epochs=0), lambda: TrainConfig(device="tpu"), lambda: TrainConfig(samples=1),
    lambda: CheckConfig(image_tokens=-1), lambda: SynthConfig(out=Path("x"), views=("back",)),
    lambda: SynthConfig(out=Path("x"), size=3), lambda: DryrunConfig(full_epochs=0),
])
def test_bad_values_are_usage_errors(make):
    with pytest.raises(UsageError):
        make()


def test_config_serialises_for_metadata():
    meta = run_metadata("dryrun", DryrunConfig(dataset=Path("/d")))
    d = json.loads(json.dumps(meta, default=str))["config"]   # as with_metadata and run.json write it
    assert d["dataset"] == "/d" and d["checks"]["max_length"] == 2048 and d["train_cfg"]["epochs"] == 5
    assert d["checks"]["views"] == ["front", "top", "right"]


def test_registry_refuses_a_duplicate_id():
    reg = Registry()

    @reg.register("probe", kind="record", severity="info", description="probe")
    def probe(record, ctx):
        return []

    assert [s.id for s in reg.specs("record")] == ["probe"] and reg.specs("image") == []
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("probe", kind="record", severity="info", description="again")(probe)
