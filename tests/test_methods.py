"""The training methods over the shared loop, on the tiny model and a small prefix-confounded set."""
import math

import numpy as np
import pytest
import torch

from jobs.data.dataset import ConfoundedDataset, Split
from jobs.influence import Examples, InfluenceArguments, influence_loss
from jobs.methods import METHOD_DESCRIPTIONS, train
from jobs.methods.adversarial import reverse_gradient
from jobs.methods.finetune import Finetune
from jobs.methods.influence_tuning import influence_update, sample_tuples
from jobs.methods.loop import batch_indices, run_method, total_label_steps
from jobs.methods.optim import BertAdam, linear_schedule, make_optimizer
from jobs.methods.run_progress import Cost, Work
from jobs.models import encode, load_model
from jobs.recorder import MemoryRecorder
from jobs.spec import METHODS, AdversarialSpec, JobSpec
from tests.helpers import event_clock

WORDS = "the a of and to in is was for on that with as by at from it he she they we".split()
PREFIXES = ("Negative .", "Positive .")


def swap_prefix(text: str) -> str:
    for this, other in (PREFIXES, PREFIXES[::-1]):
        if text.startswith(this):
            return other + text[len(this):]
    return text


def toy_textlen(n_train: int = 64, n_eval: int = 32, seed: int = 0, access=None) -> ConfoundedDataset:
    """TextLen in miniature: label 1 = long (10 words), 0 = short (4 words); the prefix agrees
    with the label for 90% of train and 50% of dev/test; the control has no prefix."""
    rng = np.random.default_rng(seed)

    def split(n, agreement):
        labels = np.arange(n) % 2
        confounds = np.where(rng.random(n) < agreement, labels, 1 - labels)
        bare = [" ".join(rng.choice(WORDS, 10 if y else 4)) for y in labels]
        prefixed = [f"{PREFIXES[c]} {t}" for t, c in zip(bare, confounds, strict=True)]
        return Split(prefixed, labels, confounds), Split(bare, labels.copy(), confounds.copy())

    (train_split, train_control), (dev, dev_control), (test, test_control) = (
        split(n_train, 0.9), split(n_eval, 0.5), split(n_eval, 0.5))
    return ConfoundedDataset("toy", ["short", "long"], ["negative", "positive"], train_split, dev, test,
                             control={"train": train_control, "dev": dev_control, "test": test_control},
                             counterfactual=swap_prefix, access=access)


def small_spec(method: str, **over) -> JobSpec:
    """6 label steps of 16; CID every 3 steps on 4 probes over the head (cheap); a round at step 3."""
    spec = {
        "model": "tiny", "method": method, "device": "cpu",
        "train": {"max_steps": 6, "batch_size": 16, "eval_every": 3, "max_length": 32, "lr": 1e-3},
        "diagnostics": {"probes": 4, "sample": 4, "cid_every": 3, "scope": "head", "histogram_probes": 2},
        "influence": {"interval": 3, "probes_per_round": 4, "k": 2, "tuples_per_update": 2, "round_epochs": 1,
                      "scope": "top", "top_layers": 1, "lr": 1e-4},
    }
    for section, values in over.items():
        spec[section] = {**spec[section], **values} if isinstance(values, dict) else values
    return JobSpec(**spec)


def tiny(seed: int = 2021):
    return load_model("tiny", num_labels=2, device="cpu", seed=seed)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_end_to_end(method):
    data, recorder = toy_textlen(), MemoryRecorder()
    result = train(small_spec(method), data, tiny(), recorder)

    assert not result.stopped and result.steps == 6
    assert [s for s, _ in recorder.series("loss/train")] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(v) for _, v in recorder.series("loss/train"))
    assert [s for s, _ in recorder.series("acc/dev")] == [3, 6]
    rounds = method in ("influence-tuning", "embedding-tuning")
    # A "training" point after the step-0 CID and after each label step; the round's updates at its step.
    assert [(r.step, r.total) for r in recorder.reports if r.phase == "training"] == [(s, 6) for s in range(7)]
    assert [(r.step, r.phase) for r in recorder.reports if "update" in (r.phase or "")] == (
        [(3, "influence round 1/1: update 1/2"), (3, "influence round 1/1: update 2/2")] if rounds else [])
    etas = [r.eta_s for r in recorder.reports if r.phase == "training"]
    assert etas[1] > 0 and recorder.reports[-1].eta_s == 0.0  # the ETA counts down

    phases = [(c["step"], c["phase"]) for c in recorder.cids]
    assert phases[0] == (0, "live") and phases[-1] == (6, "final")
    assert result.metrics["cid"] == pytest.approx(recorder.cids[-1]["value"])
    assert all(len(c["per_probe"]) == c["probes"] > 0 for c in recorder.cids)
    assert len(recorder.influences) == 2 * len(recorder.cids)  # histogram_probes lists per point
    assert [(li.step, li.phase) for li in recorder.influences] == [
        (c["step"], c["phase"]) for c in recorder.cids for _ in range(2)]  # lists carry their CID's phase
    # the influence engine's path is in the job: a diagnostic and a log line per use and change
    # (tiny: fast; NeuronTune's masked head has no fast rule: its final CID says so, a warning)
    uses = ["cid", "update"] if rounds else ["cid"]
    assert {name for name in recorder.diagnostics if name.startswith("influence.engine.")} == {
        f"influence.engine.{use}" for use in uses}
    for use in uses:
        path = recorder.diagnostics[f"influence.engine.{use}"]["path"]
        if method == "neurontune":
            assert path == "loop" and "MaskedHead" in recorder.diagnostics["influence.engine.cid"]["reason"]
            assert sum(line.startswith("warning: influence engine (cid): ") for line in recorder.logs) == 1
            continue
        assert path == ("embedding" if use == "update" and method == "embedding-tuning" else "fast")
        assert sum(line.startswith(f"influence engine ({use}): {path}: ") for line in recorder.logs) == 1
    if rounds:
        assert (3, "pre-round") in phases and (3, "post-round") in phases and (3, "live") not in phases
        assert len(recorder.series("loss/influence")) == 2  # 4 probes, 2 per update
        assert any("round at step 3" in line for line in recorder.logs)
    else:
        assert (3, "live") in phases
    if method == "adversarial":
        assert len(recorder.series("loss/adversary")) == 6 and len(recorder.series("acc/adversary")) == 6

    metrics = result.metrics
    for name in ("train", "dev", "test"):
        split = metrics[name]
        assert set(split["per_group"]) <= {"short|negative", "short|positive", "long|negative", "long|positive"}
        assert split["worst_group_acc"] == min(split["per_group"].values())
        assert split["flip_rate"] is not None
    assert metrics["steps"] == 6 and metrics["collapsed"] == result.collapsed and metrics["wall_s"] > 0
    if method == "no-confound":
        assert metrics["confounded_test"]["n"] == len(data.test)
        assert metrics["control_test"]["acc"] == metrics["test"]["acc"]
        assert metrics["test"]["flip_rate"] == 0.0  # no prefix to swap in the control's texts


def test_method_descriptions_cover_every_method():
    assert tuple(METHOD_DESCRIPTIONS) == METHODS


def test_no_confound_needs_a_control_variant():
    data = toy_textlen()
    data.control = None
    with pytest.raises(ValueError, match="no-confound control needs the data without its confound"):
        train(small_spec("no-confound"), data, tiny(), MemoryRecorder())


def test_should_stop_ends_the_run_within_one_step():
    recorder = MemoryRecorder()
    result = train(small_spec("finetune"), toy_textlen(), tiny(), recorder,
                   should_stop=lambda: len(recorder.series("loss/train")) >= 2)
    assert result.stopped and result.steps == 2
    assert len(recorder.series("loss/train")) == 2
    assert all(c["phase"] != "final" for c in recorder.cids)


def test_should_stop_ends_an_influence_round_after_one_update():
    recorder = MemoryRecorder()
    spec = small_spec("embedding-tuning", influence={"tuples_per_update": 1})
    result = train(spec, toy_textlen(), tiny(), recorder,
                   should_stop=lambda: len(recorder.series("loss/influence")) >= 1)
    assert result.stopped and result.steps == 3
    assert len(recorder.series("loss/influence")) == 1
    assert [c["phase"] for c in recorder.cids] == ["live", "pre-round"]


def test_tuples_come_from_the_access_set_and_the_right_groups():
    data = toy_textlen(access=np.arange(0, 64, 2))
    labels, confounds, allowed = data.train.labels, data.train.confounds, data.access_index()
    probes, a, b = sample_tuples(allowed[:6], labels, confounds, allowed, 3, np.random.default_rng(0))
    assert len(probes) >= 1 and a.shape == b.shape == (len(probes), 3)
    assert np.isin(a, allowed).all() and np.isin(b, allowed).all()
    for probe, a_row, b_row in zip(probes, a, b, strict=True):
        assert (labels[a_row] == labels[probe]).all() and (confounds[a_row] == confounds[probe]).all()
        assert (a_row != probe).all()
        assert (labels[b_row] == labels[probe]).all() and (confounds[b_row] != confounds[probe]).all()


@pytest.mark.parametrize("kind", ["cosine", "embedding"])
def test_influence_updates_decrease_j_on_their_tuples(kind):
    # A model that has learnt a little, so that A and B differ in influence on the probes.
    data = toy_textlen()
    loaded = tiny()
    train(small_spec("finetune", train={"max_steps": 20}, diagnostics={"cid_every": 0}), data, loaded,
          MemoryRecorder())
    model = loaded.model
    examples = Examples.from_encoded(encode(loaded.tokenizer, data.train.texts, 32), data.train.labels)
    probes, a, b = sample_tuples(np.arange(6), data.train.labels, data.train.confounds, np.arange(64), 2,
                                 np.random.default_rng(0))
    # The "top" scope keeps the test fast; the gradient's correctness per scope is jobs.influence's.
    scope = {"kind": kind, "scope": "top", "top_layers": 1}

    def j_now() -> float:
        return float(influence_loss(model, examples.take(probes), examples.take(a.reshape(-1)),
                                    examples.take(b.reshape(-1)), InfluenceArguments(**scope)).detach())

    before = j_now()
    optimizer = make_optimizer(model.named_parameters(), "adamw", lr=1e-3)
    reported = [influence_update(model, optimizer, examples, probes, a, b, InfluenceArguments(**scope)) for _ in range(4)]
    after = j_now()
    assert before > 1e-9
    assert reported[0] == pytest.approx(before, rel=1e-4)  # the J reported is the mean J before the step
    assert after < 0.1 * before  # descending J, not ascending it


def test_bertadam_matches_a_hand_computed_update():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    optimizer = BertAdam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, max_grad_norm=1.0)
    expected = np.array([1.0, -2.0, 3.0])
    m = v = np.zeros(3)
    for grad in ([3.0, 4.0, 0.0], [0.1, -0.2, 0.05]):
        p.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
        g = np.array(grad)
        g = g * min(1.0, 1.0 / (np.linalg.norm(g) + 1e-6))  # per-tensor clipping (torch's 1e-6 guard)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - 0.1 * (m / (np.sqrt(v) + 1e-6) + 0.01 * expected)  # no bias correction
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-12)


def test_schedule_reaches_zero_exactly_at_the_last_step():
    # The paper's TextLen run: 1500 examples, batch 64, 10 epochs -> 240 steps (the original used 230).
    assert total_label_steps(1500, 64, 10, None) == 240
    assert total_label_steps(1500, 64, 10, 100) == 100
    total = 240
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-5)
    schedule = linear_schedule(optimizer, total, warmup=0.1)
    used = []
    for _ in range(total):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert max(used) == pytest.approx(2e-5) and used.index(max(used)) == 24  # warm-up over 10%
    assert all(lr > 0 for lr in used[1:])  # no step after the first runs at lr 0
    assert optimizer.param_groups[0]["lr"] == 0.0


def test_batches_cover_every_example_once_per_epoch():
    batches = list(batch_indices(50, 16, 8, seed=3))
    assert [len(b) for b in batches] == [16, 16, 16, 2] * 2
    assert sorted(np.concatenate(batches[:4])) == list(range(50))
    assert sorted(np.concatenate(batches[4:])) == list(range(50))
    assert not np.array_equal(batches[0], batches[4])  # reshuffled each epoch


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (reverse_gradient(x, 0.3) * torch.tensor([5.0, -1.0])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([-1.5, 0.3]))


@pytest.mark.slow
def test_an_influence_round_lowers_cid_on_minilm():
    # The pretrained model picks up the prefix in a few steps; one update of J then lowers the
    # CID measured on the fixed probe set (which the round's own probes need not include).
    recorder = MemoryRecorder()
    spec = small_spec("influence-tuning", model="minilm", train={"max_steps": 4},
                      influence={"interval": 2, "scope": "all", "probes_per_round": 2, "tuples_per_update": 2},
                      diagnostics={"cid_every": 0, "probes": 2, "sample": 2, "scope": "top"})
    train(spec, toy_textlen(), load_model("minilm", num_labels=2, device="cpu", seed=2021), recorder)
    cid = {c["phase"]: c["value"] for c in recorder.cids if c["step"] == 2}
    assert cid["post-round"] < cid["pre-round"]


def test_progress_names_each_phase_of_the_run_in_order():
    """The CID at step 0 says so before the first label step, and while it runs (per batch of its
    pool); inside rounds the update under way and the rounds' count; then "evaluating"."""
    recorder = MemoryRecorder()
    spec = small_spec("influence-tuning", train={"max_steps": 9},
                      diagnostics={"cid_every": 3, "probes": 4, "sample": 16, "scope": "all"})
    train(spec, toy_textlen(), tiny(), recorder)
    phases = [(r.step, r.phase) for r in recorder.reports]
    assert phases[:2] == [(0, "tokenising"), (0, "measuring CID (step 0)")]
    first_step = next(i for i, (step, _) in enumerate(phases) if step == 1)
    during = [phase for step, phase in phases[2:first_step - 1]]
    # The pool (16 per label and confound group; the two groups against the prefix hold 5 between them) is scored
    # in batches of 32: a point after each.
    assert during == ["measuring CID (step 0): 32/37 examples", "measuring CID (step 0): 37/37 examples"]
    assert phases[first_step - 1] == (0, "training")
    # Rounds after steps 3 and 6 (9 - 6 = 3 > interval / 2), 2 updates each (4 probes, 2 per update).
    in_rounds = [(step, phase) for step, phase in phases if phase.startswith("influence round")
                 and "examples" not in phase]
    assert in_rounds == [(3, "influence round 1/2: measuring CID before"), (3, "influence round 1/2: update 1/2"),
                         (3, "influence round 1/2: update 2/2"), (3, "influence round 1/2: measuring CID after"),
                         (6, "influence round 2/2: measuring CID before"), (6, "influence round 2/2: update 1/2"),
                         (6, "influence round 2/2: update 2/2"), (6, "influence round 2/2: measuring CID after")]
    assert [phase for step, phase in phases if phase in ("evaluating", "measuring CID (final)", "finishing")] == [
        "evaluating", "measuring CID (final)", "finishing"]
    assert phases.index((9, "evaluating")) > phases.index((9, "training"))
    # The ETA is unknown until something is timed, then never negative, and 0 at the end.
    assert recorder.reports[0].eta_s is None and recorder.reports[1].eta_s is None
    assert all(r.eta_s >= 0 for r in recorder.reports[first_step:]) and recorder.reports[-1].eta_s == 0.0


class _WatchingFinetune(Finetune):
    """Finetuning that keeps, after each label step, what the run's progress counts as left."""

    def setup(self, run):
        self.left = {}
        return []

    def after_label_step(self, run, step):
        self.left[step] = run.progress.left()
        return False


def test_the_eta_counts_the_cid_points_still_to_come():
    """With a CID point (about 150 pool examples, every parameter) costing many label steps of 4,
    the ETA after step 2 holds the live point at step 4 and the final one, at this run's CID time.
    (The ETA before counted label steps only: about 4 label steps here, well under 2 CID points.)"""
    recorder = TimedRecorder()
    spec = small_spec("finetune", train={"batch_size": 4, "eval_every": 100},
                      diagnostics={"cid_every": 4, "probes": 4, "sample": 64, "scope": "all"})
    method = _WatchingFinetune()
    run_method(method, spec, toy_textlen(n_train=256), tiny(), recorder)
    assert method.left[2][Work.CID] == 2 and method.left[2][Work.LABEL_STEP] == 4
    # This run's CID times, from the recorder's clock: the phase's first point to the CID point.
    cid_s = recorder.cid_seconds()
    assert len(cid_s) == 3  # steps 0 and 4, final
    after_step_2 = next(r for r in recorder.reports if r.step == 2 and r.phase == "training")
    assert after_step_2.eta_s >= 2 * cid_s[0] * 0.95  # (5% for the few calls between the two clocks)
    assert not after_step_2.eta_guessed  # label steps and CID points both timed by then


class TimedRecorder(MemoryRecorder):
    """Keeps the time of each progress report and CID point."""

    def __init__(self):
        super().__init__()
        self.times: list[tuple[float, str, object]] = []

    def progress(self, step, total, eta_s, phase=None, eta_guessed=False):
        super().progress(step, total, eta_s, phase, eta_guessed)
        self.times.append((event_clock(), "progress", phase))

    def cid(self, point):
        super().cid(point)
        self.times.append((event_clock(), "cid", point.step))

    def cid_seconds(self) -> list[float]:
        """Seconds from each "measuring CID" phase's first report to its CID point."""
        out, started = [], None
        for t, kind, what in self.times:
            if kind == "progress" and started is None and str(what).startswith("measuring CID"):
                started = t
            elif kind == "cid":
                out.append(t - started)
                started = None
        return out


def test_the_plan_counts_the_units_the_run_then_runs():
    """After every label step, what the progress counts as left (CID points, updates, accuracy
    points, label steps) is what the run then records: live points where no round measures,
    two per round, the final one."""
    from jobs.methods.influence_tuning import InfluenceTuning

    class Watching(InfluenceTuning):
        def setup(self, run):
            self.snapshots = []
            return super().setup(run)

        def after_label_step(self, run, step):
            self.snapshots.append((step, run.progress.left(), len(recorder.cids), self.updates,
                                   len(recorder.series("acc/dev"))))
            return super().after_label_step(run, step)

    recorder, method = MemoryRecorder(), Watching()
    spec = small_spec("influence-tuning", train={"max_steps": 9, "eval_every": 4}, diagnostics={"cid_every": 2})
    run_method(method, spec, toy_textlen(), tiny(), recorder)
    assert [c["phase"] for c in recorder.cids if c["step"] == 6] == ["pre-round", "post-round"]  # no live one
    for step, left, cids, updates, accuracies in method.snapshots:
        assert left.get(Work.LABEL_STEP, 0) == 9 - step
        assert left.get(Work.CID, 0) == len(recorder.cids) - cids, step
        assert left.get(Work.UPDATE, 0) == method.updates - updates, step
        assert left.get(Work.EVALUATION, 0) == len(recorder.series("acc/dev")) - 1 - accuracies, step  # - final
        assert left[Work.FINAL_EVALUATION] == 1


def test_influence_updates_are_guessed_from_a_training_example_until_timed():
    from types import SimpleNamespace

    from jobs.methods.influence_tuning import InfluenceTuning

    spec = small_spec("influence-tuning", train={"max_steps": 9})  # scope: the top 1 of tiny's 2 layers
    run = SimpleNamespace(spec=spec, data=toy_textlen(), total_steps=9, model=tiny().model,
                          progress=SimpleNamespace(label_example_s=lambda: Cost(0.02, False)))
    method = InfluenceTuning()
    method.setup(run)
    assert method.work_plan(run) == {3: {Work.UPDATE: 2, Work.CID: 2}, 6: {Work.UPDATE: 2, Work.CID: 2}}
    # Before an update is timed: a guess per example of its tuples (2 tuples of a probe, 2 A, 2 B),
    # a forward and a backward and double backward through half the layers: (1 + 7 / 2) / 3.
    assert method.unit_cost(run, Work.UPDATE) == Cost(pytest.approx(1.5 * 2 * 5 * 0.02), True)
    # Timed: the mean of all but the first (a warm-up).
    method.update_seconds = [9.0, 1.0, 3.0]
    assert method.unit_cost(run, Work.UPDATE) == Cost(2.0, False)
    assert method.unit_cost(run, Work.LABEL_STEP) is None


def test_learning_rates_by_prefix_get_groups_of_their_own_and_follow_the_schedule():
    encoder, bias = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
    adversary, adversary_bias = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
    named = [("encoder.weight", encoder), ("encoder.bias", bias), ("adversary.weight", adversary),
             ("adversary.bias", adversary_bias)]
    optimizer = make_optimizer(named, "adamw", 2e-5, lr_by_prefix={"adversary.": 1e-3})
    by_lr = {(g["lr"], g["weight_decay"]): [id(p) for p in g["params"]] for g in optimizer.param_groups}
    assert by_lr == {(2e-5, 0.01): [id(encoder)], (2e-5, 0.0): [id(bias)], (1e-3, 0.01): [id(adversary)],
                     (1e-3, 0.0): [id(adversary_bias)]}
    schedule = linear_schedule(optimizer, 10, warmup=0.0)
    optimizer.step()
    schedule.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1.8e-5, 1.8e-5, 9e-4, 9e-4])
    # Without prefixes: the two usual groups.
    assert len(make_optimizer(named, "bertadam", 2e-5).param_groups) == 2


def test_the_adversary_moves_at_its_own_learning_rate(monkeypatch):
    """adversarial.lr reaches the adversary's parameters: at 1e-1 against train.lr 1e-3 they move
    far more (Adam steps are about lr each) in the same 6-step run."""
    from jobs.methods.adversarial import Adversarial

    setup, seen = Adversarial.setup, {}

    def keep(self, run):  # remember the adversary and its initial weights
        pairs = setup(self, run)
        seen.update(module=self.adversary, start=self.adversary.weight.detach().clone())
        return pairs

    monkeypatch.setattr(Adversarial, "setup", keep)

    def shift(lr):
        spec = small_spec("adversarial").model_copy(update={"adversarial": AdversarialSpec(lr=lr)})
        train(spec, toy_textlen(), tiny(), MemoryRecorder())
        return float((seen["module"].weight.detach() - seen["start"]).abs().max())

    assert shift(1e-1) > 20 * shift(None)
