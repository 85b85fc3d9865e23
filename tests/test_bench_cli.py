"""`deconfound bench` runs the influence benchmark and writes its ratios machine-readably."""
import json

from backend.cli import main


def test_bench_writes_ratios_as_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--models", "tiny", "--quick", "--only", "r4", "--threads", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    by_name = {row["name"]: row for row in rows}
    r4 = next(row for name, row in by_name.items() if name.startswith("R4"))
    assert r4["model"] == "tiny" and r4["goal"] == 1.5
    assert r4["ratio"] > 0 and abs(r4["ratio"] - r4["ours_s"] / r4["baseline_s"]) < 1e-9
    assert "R4" in capsys.readouterr().out


def test_bench_families_measures_each_shape_beside_bert(tmp_path, monkeypatch, capsys):
    """The --families path end to end on two small stand-ins of the real shapes (the real ones
    are GBs): a BERT and a Qwen2 decoder with LoRA; the table puts each ratio beside BERT's."""
    import benchmarks.influence.family_shapes as shapes
    from benchmarks.influence.family_shapes import FamilyShape

    small = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128}
    monkeypatch.setitem(shapes.SHAPES, "bert-base", FamilyShape("bert-base", small, "bert"))
    monkeypatch.setitem(shapes.SHAPES, "qwen2-0.5b-lora", FamilyShape(
        "qwen2-0.5b-lora", {**small, "num_key_value_heads": 1, "vocab_size": 30522}, "qwen2",
        lora={"r": 4, "alpha": 8, "targets": ["q", "v"]}))
    monkeypatch.setattr("benchmarks.influence.families.SIZES",
                        {"tuples": 2, "r2_train": 20, "train_steps": 1, "train_batch": 8})
    out = tmp_path / "families.json"
    assert main(["bench", "--families", "bert-base", "qwen2-0.5b-lora", "--threads", "1", "--cache",
                 str(tmp_path / "shapes"), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["model"], r["name"].split(" ")[0]) for r in rows} >= {
        (family, measure) for family in ("bert-base", "qwen2-0.5b-lora") for measure in ("R1", "R2", "R4")}
    r1 = next(r for r in rows if r["model"] == "qwen2-0.5b-lora" and r["name"].startswith("R1"))
    assert "scope lora" in r1["note"] and "sized from free memory" in r1["note"] and r1["ratio"] > 0
    printed = capsys.readouterr().out
    bert_row = next(line for line in printed.splitlines() if line.startswith("| bert-base |"))
    assert bert_row.split(" | ")[2] == "1.00"  # BERT over itself
    assert "| qwen2-0.5b-lora |" in printed


def test_bench_families_refuses_an_unknown_shape(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["bench", "--families", "gpt-5"])
    assert "unknown shape(s) gpt-5" in capsys.readouterr().err
