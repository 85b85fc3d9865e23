"""The paper's protocol on your own data (issue 17, item 1): `deconfound reproduce --data DIR`
runs Table 2 on a directory of train/dev/test JSONL files at the tiny scale, with the data's own
group names, and resumes; the same over REST on an upload; a custom protocol without data is
refused in one line."""
from __future__ import annotations

import json
import random

from sqlalchemy import select

from backend.cli import main
from backend.services.local_data import data_in_store
from backend.store.db import Database
from backend.store.models import Experiment, Job
from jobs.presets import PROTOCOL_METHODS


def write_own_data(folder, seed: int = 0) -> None:
    """Topic labels (sports/weather) with a pronoun that agrees with the topic 85% of the time."""
    rng = random.Random(seed)
    words = {"sports": ["match", "goal", "team", "coach", "league"], "weather": ["rain", "storm", "sunny", "wind"]}
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 96), ("dev", 32), ("test", 32)):
        with (folder / f"{split}.jsonl").open("w") as f:
            for _ in range(n):
                label = rng.choice(["sports", "weather"])
                agree = rng.random() < 0.85
                pronoun = ("she" if label == "sports" else "he") if agree else ("he" if label == "sports" else "she")
                text = f"{pronoun} said the {rng.choice(words[label])} was {rng.choice(['great', 'odd', 'long'])}"
                f.write(json.dumps({"text": text, "label": label, "confound": pronoun}) + "\n")


def test_reproduce_data_runs_table_2_on_a_directory_of_jsonl_files_and_resumes(settings, tmp_path, capsys):
    own = tmp_path / "mine"
    write_own_data(own)
    argv = ["reproduce", "--data", str(own), "--scale", "tiny", "--data-dir", str(settings.data_dir)]
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    with Database(settings.database_url).session() as session:
        jobs = list(session.scalars(select(Job).order_by(Job.id)))
        (experiment,) = session.scalars(select(Experiment)).all()
    assert {j.method for j in jobs} == set(PROTOCOL_METHODS["custom"]) and len(jobs) == 4
    assert all(j.status in ("succeeded", "collapsed") for j in jobs), [(j.id, j.status, j.error) for j in jobs]
    # The data was copied into the data directory once; jobs read it there, with the paper preset.
    path = jobs[0].spec["dataset"]["path"]
    assert path.startswith("datasets/mine-") and (settings.data_dir / path / "train.jsonl").is_file()
    assert all(j.spec["dataset"]["name"] == "custom" and j.spec["preset"] == "paper" for j in jobs)
    table2 = out[out.index("Table 2"):out.index("Figure 3")]
    assert all(method in table2 for method in PROTOCOL_METHODS["custom"])
    assert "sports|she" in table2 and "weather|he" in table2  # the data's own names, not 0|1
    assert experiment.name.startswith("reproduce custom datasets/mine-")
    # Again: the same content lands in the same place, so the experiment is found and nothing re-runs.
    assert main(argv) == 0 and "resumed (4 finished)" in capsys.readouterr().out
    assert data_in_store(settings.data_dir, str(own)) == path


def test_rest_reproduces_on_an_upload_and_refuses_custom_without_data(client, tmp_path):
    own = tmp_path / "mine"
    write_own_data(own)
    upload = client.post("/api/datasets", files={"file": ("topics.jsonl", (own / "train.jsonl").read_bytes())})
    assert upload.status_code == 201, upload.text
    body = {"dataset": "custom", "data": f"upload:{upload.json()['id']}", "scale": "tiny"}
    preview = client.post("/api/experiments/reproduce/preview", json=body)
    assert preview.status_code == 200 and preview.json()["jobs"] == 4, preview.text
    made = client.post("/api/experiments/reproduce", json=body)
    assert made.status_code == 201 and len(made.json()["job_ids"]) == 4, made.text
    jobs = [client.get(f"/api/jobs/{i}").json() for i in made.json()["job_ids"]]
    (stored,) = {(j["spec"]["dataset"]["name"], j["spec"]["dataset"]["path"]) for j in jobs}
    assert stored[0] == "custom" and stored[1].startswith("uploads/")  # the upload's file, one for every job
    refused = client.post("/api/experiments/reproduce", json={"dataset": "custom", "scale": "tiny"})
    assert refused.status_code == 400 and "--data" in refused.json()["detail"]


def test_the_cli_says_what_to_give_without_a_dataset(settings, capsys):
    assert main(["reproduce", "--scale", "tiny", "--data-dir", str(settings.data_dir)]) == 2
    assert "--data PATH" in capsys.readouterr().err


def test_sweep_takes_your_own_data_with_the_papers_search_space(settings, tmp_path, capsys):
    own = tmp_path / "mine"
    write_own_data(own)
    code = main(["sweep", "--data", str(own), "--method", "adversarial", "--grid", "paper", "--detach",
                 "--data-dir", str(settings.data_dir)])
    assert code == 0, capsys.readouterr()
    with Database(settings.database_url).session() as session:
        jobs = list(session.scalars(select(Job)))
    # The paper's adversarial space on TextLen: 2 lrs x 3 epochs x 4 weights.
    assert len(jobs) == 24 and {j.spec["dataset"]["name"] for j in jobs} == {"custom"}
    assert {j.spec["dataset"]["path"] for j in jobs} == {data_in_store(settings.data_dir, str(own))}


def test_no_confound_on_data_without_a_confound_free_copy_is_refused_at_submit(client, tmp_path):
    own = tmp_path / "mine"
    write_own_data(own)
    upload = client.post("/api/datasets", files={"file": ("topics.jsonl", (own / "train.jsonl").read_bytes())})
    refused = client.post("/api/jobs", json={"model": "tiny", "method": "no-confound",
                                             "dataset": {"name": "custom", "path": f"upload:{upload.json()['id']}"}})
    assert refused.status_code == 400 and "'counterfactual' column" in refused.json()["detail"]
    assert client.get("/api/jobs").json()["total"] == 0
