"""The protocol on data the project did not generate (issue 17, item 6): tests/fixtures/brand_reviews
is 298 hand-written product reviews with a planted cue (the brand named goes with the label in 95%
of train, 50% of test) and a counterfactual column (the review without its brand). `deconfound
reproduce --data` runs Table 2 on it at the tiny scale, with the data's own group names and a
flip rate; the shipped files are what the folder's build.py makes from its sentences."""
from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

from backend.cli import main
from jobs.presets import PROTOCOL_METHODS

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brand_reviews"
GROUPS = ("negative|Corvo", "negative|Halden", "positive|Corvo", "positive|Halden")


def read_split(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / f"{name}.jsonl").read_text().splitlines()]


def table_rows(out: str, title: str) -> list[dict[str, str]]:
    """The rows of a printed plain-text table as {column: cell} (columns are 2+ spaces apart)."""
    lines = out[out.index(title):].splitlines()[1:]
    header = re.split(r"\s{2,}", lines[0].strip())
    rows = []
    for line in lines[2:]:
        if not line.strip():
            break
        rows.append(dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=True)))
    return rows


def test_the_fixture_is_what_build_py_makes_small_with_its_cue_as_stated():
    spec = importlib.util.spec_from_file_location("build_reviews", FIXTURE / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    made = build.build()
    for name in ("train", "dev", "test"):
        assert read_split(name) == [{k: r[k] for k in ("text", "label", "confound", "counterfactual")}
                                    for r in made[name]]
    assert sum(f.stat().st_size for f in FIXTURE.iterdir()) < 1_000_000
    train, test = Counter((r["label"], r["confound"]) for r in read_split("train")), \
        Counter((r["label"], r["confound"]) for r in read_split("test"))
    assert train[("positive", "Halden")] == train[("negative", "Corvo")] == 95  # the cue in train: 95%
    assert len(set(test.values())) == 1 and len(test) == 4  # in test: 50%, every group alike
    texts = [r["text"] for s in ("train", "dev", "test") for r in read_split(s)]
    assert len(texts) == len(set(texts)) == 298
    for row in read_split("test"):  # the counterfactual is the text less its brand, nothing else
        assert row["counterfactual"] == row["text"].replace(row["confound"] + " ", "")


def test_reproduce_data_runs_table_2_on_the_review_fixture_at_the_tiny_scale(settings, capsys):
    # The tiny scale's 16 label steps do not fit 200 reviews with the random test model (every trial
    # collapses): 64 steps do, by the brand, which is the shortcut the fixture plants.
    code = main(["reproduce", "--data", str(FIXTURE), "--scale", "tiny", "--set", "train.max_steps=64",
                 "--data-dir", str(settings.data_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = {row["method"]: row for row in table_rows(out, "Table 2")}
    assert set(rows) == set(PROTOCOL_METHODS["custom"])
    finetune = rows["finetune"]
    assert all(group in finetune for group in GROUPS)  # the data's own names, per-group accuracy
    assert 0 <= float(finetune["flip rate"]) <= 100  # the counterfactual column gives a flip rate
    assert 0 <= float(finetune["test acc"]) <= 100 and 0 <= float(finetune["positive|Halden"]) <= 100
