import json

from click.testing import CliRunner

from harness.cli import main
from harness.results.schema import FINDINGS, RECORDS
from harness.results.write import read_table
from tests.support.text import PROMPT, cad_code


def write(root, answers):
    (root / "images").mkdir(parents=True)
    items = [{"id": str(i), "image": f"{i}_front.png",
              "conversations": [{"from": "human", "value": PROMPT}, {"from": "gpt", "value": a}]}
             for i, a in enumerate(answers)]
    (root / "train.json").write_text(json.dumps(items[:-1]))
    (root / "val.json").write_text(json.dumps(items[-1:]))
    return root


def test_clean_dataset_exits_0_and_writes_both_tables(tmp_path, sp_path):
    data = write(tmp_path / "d", [cad_code(i) for i in range(4)])
    res = CliRunner().invoke(main, ["labels", str(data), "--tokenizer", str(sp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "findings: 0 errors, 0 warnings, 0 info" in res.output and "records/s" in res.output
    assert "train on nothing: 0 of 4" in res.output
    records = read_table(tmp_path / "o" / "records.arrow")
    assert records.schema.names == RECORDS.names and records.num_rows == 4
    assert records.column("split").to_pylist() == ["train"] * 3 + ["val"]
    assert all(v > 0 for v in records.column("supervised_tokens_template").to_pylist())
    assert read_table(tmp_path / "o" / "findings.arrow").schema.names == FINDINGS.names


def test_blanked_sample_exits_1(tmp_path):
    data = write(tmp_path / "d", [cad_code(0), "x </s> y"])
    res = CliRunner().invoke(main, ["labels", str(data), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    assert "labels.blanked" in res.output and "train on nothing: 1 of 2" in res.output
    f = read_table(tmp_path / "o" / "findings.arrow").to_pylist()
    assert [(r["check"], r["split"], r["record_index"]) for r in f] == [("labels.blanked", "val", 0)]


def test_usage_errors_exit_2(tmp_path):
    data = write(tmp_path / "d", [cad_code(0)])
    assert CliRunner().invoke(main, ["labels", str(data), "--template", "nope"]).exit_code == 2
    assert CliRunner().invoke(main, ["labels", str(tmp_path / "missing")]).exit_code == 2


def test_a_jsonl_split_is_an_error_and_its_records_are_still_judged(tmp_path):
    """train.json written as JSON Lines: TinyLLaVA's json.load stops on 'Extra data', so `harness labels`
    exits 1 with dataset.split_jsonl on train; its records are still read and simulated."""
    data = write(tmp_path / "d", [cad_code(i) for i in range(3)])
    items = json.loads((data / "train.json").read_text())
    (data / "train.json").write_text("\n".join(map(json.dumps, items)) + "\n")
    res = CliRunner().invoke(main, ["labels", str(data), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    f = read_table(tmp_path / "o" / "findings.arrow").to_pylist()
    assert [(r["check"], r["severity"], r["split"]) for r in f] == [("dataset.split_jsonl", "error", "train")]
    assert read_table(tmp_path / "o" / "records.arrow").num_rows == 3
