"""`deconfound datasets --calibrate`: the generator's finetune check beside the original's figures.
The real check takes minutes per seed (MiniLM); here the same path runs at scale tiny."""
from __future__ import annotations

import pytest

from jobs.calibrate import ORIGINALS, Calibration, CalibrationRow, calibration_spec, calibration_table
from jobs.cli import main
from jobs.data.textstats import TextStats, text_stats, words


def test_calibrate_prints_the_check_beside_the_original(capsys):
    assert main(["datasets", "--calibrate", "textlen", "--scale", "tiny", "--seeds", "2021"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Calibration of the generated textlen: finetune (tiny, scale tiny)")
    header = out[1].split()
    assert header[:4] == ["test", "acc", "worst", "group"] and "CID" in header
    first = {line.split("  ")[0].strip() for line in out[3:8]}
    assert first == {"seed 2021", "mean", "original split", "target", "within"}
    original = next(line for line in out if line.startswith("original split")).split()
    assert original[2:6] == ["75.8", "47.2", "45.0", "0.62"]
    target = next(line for line in out if line.startswith("target")).split()
    assert target[1:3] == ["±3", "±8"]
    stats = [line.split() for line in out if line.startswith(("train ", "test "))]
    assert [s[0] for s in stats] == ["train", "test"]
    assert stats[0][1] == "64" and stats[0][3] == "6607" and stats[1][3] == "3090"
    assert out[-1] in ("textlen: within target", "textlen: OUT OF TARGET")


def test_the_verdict_reads_the_means_against_the_tolerances():
    def calibration(acc: float, gap: float) -> Calibration:
        rows = [CalibrationRow(seed=s, status="succeeded", test_acc=acc + d, gap=gap) for s, d in ((1, -1), (2, 1))]
        stats = text_stats(["The tall boy saw a cat ."])
        return Calibration(dataset="msgs", scale="cpu", model="minilm", rows=rows, original=ORIGINALS["msgs"],
                           texts={"train": stats})

    assert calibration(80.0, 40.0).mean("test_acc") == pytest.approx(80.0)
    assert calibration_table(calibration(80.0, 40.0)).endswith("msgs: within target\n")
    assert calibration_table(calibration(90.0, 40.0)).endswith("msgs: OUT OF TARGET\n")  # 10.6 above 79.4
    assert calibration_table(calibration(80.0, 20.0)).endswith("msgs: OUT OF TARGET\n")  # gap 16 below 36
    lines = calibration_table(calibration(80.0, 40.0)).splitlines()
    train = next(line for line in lines if line.startswith("train"))
    assert train.split()[1:] == ["1", "6", "947", "6.0,", "0.0,", "6-6", "13.2,", "1.6,", "9-18"]  # beside the original


def test_the_check_runs_the_cpu_scales_finetune_at_the_originals_msgs_sizes():
    spec = calibration_spec("msgs", 2022)
    assert spec["model"] == "minilm" and spec["method"] == "finetune" and spec["seed"] == 2022
    assert spec["train"]["max_length"] == 64 and spec["preset"] == "paper"  # lr 2e-5, batch 64, 3 epochs
    assert spec["dataset"]["options"]["train_size"] == 5000 and spec["dataset"]["options"]["test_size"] == 15000
    assert "options" not in calibration_spec("textlen", 2021)["dataset"]  # the paper's 1500 / 480 / 500
    with pytest.raises(ValueError, match="no calibration for 'custom'"):
        calibration_spec("custom", 2021)


def test_words_and_lengths():
    assert words("The U.N. envoy 's plan cost 1,250 dollars , wouldn't it ?") == [
        "the", "u.n", "envoy", "'s", "plan", "cost", "1,250", "dollars", "wouldn't", "it"]
    stats = text_stats(["a b c", "a b c d e"])
    assert stats == TextStats(texts=2, vocabulary=5, length_mean=4.0, length_sd=1.0, length_min=3, length_max=5)
