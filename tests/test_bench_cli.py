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
