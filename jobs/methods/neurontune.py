"""NeuronTune (Zheng, Ye, Zhang; ICML 2025): find the penultimate neurons that go with a model's
errors and retrain the head without them. No confound labels anywhere in the method.

    parent model: a finished job's saved model (neurontune.parent_artifact), or finetuned here
                  with the spec's `train` section first (the shared loop, plain finetuning)
    identify:     on dev, with class labels only: delta [C, M] per class and neuron (jobs.neurons)
    tune:         for each lambda, zero S = {delta > lambda}, freeze the encoder and retrain only
                  the head on train with cross-entropy and class-balanced batches
    select:       the lambda with the highest SFit on dev (or dev accuracy), class labels only
    discover:     the n-grams that most raise the biased neurons (jobs.discovery)

The method itself (`tune`) takes `data.without_confounds()` and refuses anything that still holds
confound values. Confounds come back only afterwards, in `run_neurontune`, to evaluate the parent
and the tuned model side by side: accuracy per (label, confound) group, worst group, CID.

The head is re-initialised by default: retraining a linear head on frozen features is a convex
problem, so where it converges the start hardly matters (on TextLen with the tiny model both
starts give the same accuracies), and a fresh start does not carry the parent head's weights
over to a feature map (ReLU, zeroed neurons) it was never trained on.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from jobs.checkpoint import Checkpointer
from jobs.contracts.diagnostics import NeuronTuneBeforeAfter, NeuronTuneFindings, neurontune_payload
from jobs.contracts.enums import CidPhase
from jobs.data.dataset import ConfoundedDataset
from jobs.data.stats import confound_pairing
from jobs.discovery import Suggestion, suggest_confounds
from jobs.evaluate import evaluate_split, is_collapsed
from jobs.influence import Examples
from jobs.lora import lora_of
from jobs.methods.finetune import Finetune
from jobs.methods.live_cid import LiveCID
from jobs.methods.loop import TrainResult, run_method
from jobs.models import Classifier, LoadedModel, encode
from jobs.neurons import (
    MaskedHead,
    activate,
    biased_sets,
    candidate_lambdas,
    embed,
    histograms,
    sfit,
    spuriousness,
)
from jobs.recorder import Recorder
from jobs.saved_model import load_saved_model
from jobs.spec import JobSpec, NeuronTuneSpec

# Head-loss points kept per candidate: every LOSS_EVERY-th step (and the last).
LOSS_EVERY = 10


@dataclass
class Candidate:
    """One lambda's tuned head and how it scores on dev (class labels only)."""

    lam: float
    head: MaskedHead
    sfit: float
    dev_acc: float
    final_loss: float

    def summary(self) -> dict:
        zeroed = self.head.zeroed
        return {"lambda": self.lam, "zeroed": int(zeroed.any(axis=0).sum()), "sfit": self.sfit,
                "dev_acc": self.dev_acc, "final_loss": self.final_loss}


@dataclass
class Tuned:
    """What `tune` did. delta [C, M]: the parent's scores on dev; zeroed [C, M]: the selected head's
    mask; candidates: one summary per lambda; stopped: should_stop() ended it (model unchanged)."""

    delta: np.ndarray
    sfit_parent: float
    candidates: list[dict]
    selected: int
    zeroed: np.ndarray
    suggestions: list[Suggestion] = field(default_factory=list)
    head_steps: int = 0
    stopped: bool = False


def check_blind(data: ConfoundedDataset) -> None:
    """Refuse a dataset whose confounds are not hidden: NeuronTune must not see them."""
    visible = data.num_confounds != 1 or any(split.confounds.any() for split in data.splits().values())
    if visible or data.control is not None or data.counterfactual is not None:
        raise ValueError("NeuronTune uses class labels only: pass data.without_confounds()")


def new_head(model: Classifier, num_labels: int, activation: str, init: str, seed: int) -> MaskedHead:
    """A MaskedHead on the model's device and dtype: fresh (N(0, initializer_range), seeded) or a
    copy of the model's current head weights."""
    parameter = next(model.parameters())
    head = MaskedHead(model.hidden_size, num_labels, activation).to(device=parameter.device, dtype=parameter.dtype)
    with torch.no_grad():
        if init == "continue":
            head.weight.copy_(model.head.weight)
            head.bias.copy_(model.head.bias)
        else:
            generator = torch.Generator().manual_seed(seed)
            std = model.encoder.config.initializer_range
            head.weight.copy_(torch.randn(head.weight.shape, generator=generator, dtype=torch.float64) * std)
    return head


def train_head(head: MaskedHead, pooled: torch.Tensor, labels: np.ndarray, opts: NeuronTuneSpec, seed: int,
               should_stop: Callable[[], bool], record: Callable[[int, float], None]) -> tuple[int, float, bool]:
    """Cross-entropy on the frozen pooled outputs [N, M] with class-balanced batches (each class
    drawn equally often, with replacement); the head's weights are updated in place.

    The head learns on standardised activations z = (act(x) - mean) / std (as DFR does: one
    learning rate then suits any encoder's scale), and the standardisation is folded back into
    its weight and bias at the end, so the model itself stays encoder -> MaskedHead.
    Returns (steps taken, last loss, stopped)."""
    n = len(labels)
    weights = 1.0 / np.bincount(labels)[labels]
    weights /= weights.sum()
    steps = math.ceil(math.ceil(n / opts.head_batch_size) * opts.head_epochs)
    rng = np.random.default_rng([seed, 2])
    target = torch.as_tensor(labels, dtype=torch.long, device=pooled.device)

    with torch.no_grad():
        features = activate(pooled, head.activation)
        mean, std = features.mean(0), features.std(0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        z = (features - mean) / std
        weight = (head.weight * std).clone().requires_grad_(True)     # the same function on z
        bias = (head.bias + head.weight @ mean).clone().requires_grad_(True)
    optimizer = torch.optim.AdamW([weight, bias], lr=opts.head_lr, weight_decay=opts.head_weight_decay)
    loss_value, stopped, step = float("nan"), False, 0
    for step in range(1, steps + 1):
        if should_stop():
            stopped, step = True, step - 1
            break
        index = torch.as_tensor(rng.choice(n, size=opts.head_batch_size, p=weights), device=pooled.device)
        loss = F.cross_entropy(F.linear(z[index], weight * head.keep, bias), target[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_value = float(loss.detach())
        if step % LOSS_EVERY == 0 or step == steps:
            record(step, loss_value)
    with torch.no_grad():
        head.weight.copy_(weight / std)
        head.bias.copy_(bias - (head.weight * head.keep) @ mean)
    return step, loss_value, stopped


def tune(model: Classifier, tokenizer, data: ConfoundedDataset, opts: NeuronTuneSpec, max_length: int, seed: int,
         recorder: Recorder, should_stop: Callable[[], bool] = lambda: False) -> Tuned:
    """NeuronTune on `model` in place (its head becomes the selected MaskedHead).

    data: the confound-free view (data.without_confounds()); anything else is refused."""
    check_blind(data)
    num_labels = data.num_labels

    # Identify: the parent's errors on dev and the embedding they go with.
    pooled_dev, parent_dev_pred = embed(model, encode(tokenizer, data.dev.texts, max_length))
    v_dev = activate(pooled_dev, opts.activation).double().cpu().numpy()
    delta = spuriousness(v_dev, data.dev.labels, parent_dev_pred, num_labels)
    errors = {name: int(((data.dev.labels == y) & (parent_dev_pred != y)).sum())
              for y, name in enumerate(data.label_names)}
    recorder.log(f"neurontune: identification on dev ({len(data.dev)} examples, errors per class {errors}); "
                 f"biased (delta > 0) per class {[(row > 0).sum().item() for row in delta]} of {delta.shape[1]}")

    # Tune: one head per lambda on the frozen training embedding.
    pooled_train, _ = embed(model, encode(tokenizer, data.train.texts, max_length))
    candidates: list[Candidate] = []
    head_steps = 0
    lambdas, fallback = candidate_lambdas(delta, opts.lambdas, opts.sets)
    if fallback:
        recorder.log(f"neurontune: lambda {', '.join(f'{lam:g}' for lam in opts.lambdas)} zeroes every neuron; "
                     f"also trying the scores' quantiles {', '.join(f'{lam:.3g}' for lam in lambdas[len(opts.lambdas):])}")
    for lam in lambdas:
        zeroed = biased_sets(delta, lam, opts.sets)
        if zeroed.all():
            recorder.log(f"neurontune: lambda {lam:g} zeroes every neuron; that head can only predict the class prior")
        head = new_head(model, num_labels, opts.activation, opts.head_init, seed)
        head.keep.copy_(torch.as_tensor(~zeroed, dtype=head.keep.dtype))
        name = f"loss/head/lambda={lam:g}"
        steps, loss, stopped = train_head(head, pooled_train, data.train.labels, opts, seed, should_stop,
                                          lambda step, value, name=name: recorder.scalar(name, step, value))
        head_steps += steps
        if stopped:
            return Tuned(delta, sfit(delta), [c.summary() for c in candidates], -1, np.zeros_like(zeroed),
                         head_steps=head_steps, stopped=True)
        with torch.no_grad():
            dev_pred = head(pooled_dev).argmax(-1).cpu().numpy()
        score = sfit(spuriousness(v_dev, data.dev.labels, dev_pred, num_labels, keep=~zeroed))
        candidates.append(Candidate(lam, head, score, float((dev_pred == data.dev.labels).mean()), loss))
        recorder.log(f"neurontune: lambda {lam:g}: {int(zeroed.any(axis=0).sum())} neurons zeroed, "
                     f"SFit {score:.3f}, dev accuracy {candidates[-1].dev_acc:.3f}")

    # Select without group labels, and install the chosen head. (A zeroed neuron scores 0 in SFit,
    # so SFit leans toward the larger lambdas, which zero fewer.)
    key = (lambda c: c.sfit) if opts.select == "sfit" else (lambda c: c.dev_acc)
    # A head with every neuron zeroed reads nothing: it competes only when all are like it.
    usable = [i for i, c in enumerate(candidates) if not c.head.zeroed.all()] or list(range(len(candidates)))
    selected = max(usable, key=lambda i: key(candidates[i]))
    chosen = candidates[selected]
    model.head = chosen.head
    recorder.log(f"neurontune: selected lambda {chosen.lam:g} by {opts.select}")

    suggestions = []
    if opts.suggestions:
        suggestions = suggest_confounds(data.dev.texts, data.dev.labels, v_dev, delta, chosen.lam, data.label_names,
                                        top_k=opts.suggestions, min_support=opts.min_support)
        recorder.log("neurontune: suggested confounds: " + (", ".join(
            f"{s.ngram!r} (d={s.effect:.2f}, n={s.support})" for s in suggestions[:5]) or "none"))
    return Tuned(delta, sfit(delta), [c.summary() for c in candidates], selected, chosen.head.zeroed,
                 suggestions=suggestions, head_steps=head_steps)


def diagnostics(tuned: Tuned, opts: NeuronTuneSpec, label_names: list[str]) -> dict:
    """The scores, the zeroed neurons and the suggestions, as JSON-ready values shaped by
    jobs.contracts.diagnostics.NeuronTuneFindings (the job's results' `neurontune`)."""
    zeroed = tuned.zeroed
    return NeuronTuneFindings(
        protocol={"identification": "dev, class labels only", "tuning": "train, class labels only",
                  "selection": f"{opts.select} on dev, class labels only",
                  "confounds": "hidden from the method; used only to evaluate afterwards"},
        activation=opts.activation, sets=opts.sets, head_init=opts.head_init,
        lam=tuned.candidates[tuned.selected]["lambda"],
        candidates=[dict(c, selected=i == tuned.selected) for i, c in enumerate(tuned.candidates)],
        sfit_parent=tuned.sfit_parent,
        sfit=tuned.candidates[tuned.selected]["sfit"],
        hidden_size=int(zeroed.shape[1]),
        zeroed=np.flatnonzero(zeroed.any(axis=0)).tolist(),
        zeroed_per_class={name: np.flatnonzero(row).tolist() for name, row in zip(label_names, zeroed, strict=True)},
        delta={name: row.tolist() for name, row in zip(label_names, tuned.delta, strict=True)},
        delta_histogram=histograms(tuned.delta, label_names),
        head_steps=tuned.head_steps,
        suggestions=[s.as_dict() for s in tuned.suggestions],
    ).model_dump(exclude_unset=True)


# The names NeuronTune's diagnostics are recorded under (Recorder.diagnostic), in recording order.
DIAGNOSTIC_NAMES = ("neurontune.scores", "neurontune.zeroed", "neurontune.candidates", "neurontune.suggestions",
                    "neurontune.before_after")
# What the before/after comparison keeps of each evaluated split (jobs.evaluate.evaluate_split).
COMPARED = ("acc", "worst_group_acc", "per_group", "agree_acc", "disagree_acc", "flip_rate")


def diagnostic_payloads(found: dict) -> dict[str, dict]:
    """diagnostics()'s dict cut into the payloads the store and the dashboard read, by name, each
    shaped by its model (jobs.contracts.diagnostics.NEURONTUNE_PAYLOADS):

    neurontune.scores       delta per class (raw [M] lists and histograms), the selected lambda
    neurontune.zeroed       the neurons zeroed: their count and indices (union and per class)
    neurontune.candidates   every lambda tried, with its zeroed count, SFit and dev accuracy
    neurontune.suggestions  the ranked suggested confounds (Suggestion.as_dict, rank from 1)"""
    payloads = {
        "neurontune.scores": {"lambda": found["lambda"], "activation": found["activation"], "sets": found["sets"],
                              "hidden_size": found["hidden_size"], "delta": found["delta"],
                              "histogram": found["delta_histogram"], "sfit_parent": found["sfit_parent"],
                              "sfit": found["sfit"]},
        "neurontune.zeroed": {"count": len(found["zeroed"]), "hidden_size": found["hidden_size"],
                              "sets": found["sets"], "indices": found["zeroed"],
                              "per_class": {name: {"count": len(ix), "indices": ix}
                                            for name, ix in found["zeroed_per_class"].items()}},
        "neurontune.candidates": {"select": found["protocol"]["selection"], "lambda": found["lambda"],
                                  "candidates": found["candidates"]},
        "neurontune.suggestions": {"identification": "dev split, class labels only",
                                   "ranking": "lower end of the 95% interval of Cohen's d",
                                   "suggestions": [{"rank": i + 1, **s} for i, s in enumerate(found["suggestions"])]},
    }
    return {name: neurontune_payload(name, payload).model_dump(exclude_unset=True) for name, payload in payloads.items()}


def before_after(parent: dict, tuned: dict) -> dict:
    """The parent and the tuned model side by side: per split (train, dev, test) the COMPARED
    numbers of each, and CID before and after."""
    splits = {name: {"parent": {k: parent[name].get(k) for k in COMPARED},
                     "tuned": {k: tuned[name].get(k) for k in COMPARED}}
              for name in ("train", "dev", "test")}
    return NeuronTuneBeforeAfter(parent_source=parent["source"], parent_steps=parent["steps"], splits=splits,
                                 cid={"parent": parent["cid"], "tuned": tuned["cid"]}).model_dump(exclude_unset=True)


def evaluate_all(model: Classifier, tokenizer, data: ConfoundedDataset, max_length: int) -> dict:
    """evaluate_split on train, dev and test (with the flip rate where the data has counterfactuals)."""
    out = {}
    for name, split in data.splits().items():
        enc = encode(tokenizer, split.texts, max_length)
        counterfactual = (encode(tokenizer, [data.counterfactual(t) for t in split.texts], max_length)
                          if data.counterfactual is not None else None)
        out[name] = evaluate_split(model, enc, split, counterfactual_enc=counterfactual,
                                   label_names=data.label_names, confound_names=data.confound_names,
                                           pairing=confound_pairing(data))
    return out


class NeuronTuneParent(Finetune):
    """The parent, finetuned here through the shared loop (checkpoints included): plain finetuning
    whose final CID is NeuronTune's "before" point (phase "pre-round"), so "final" is the tuned model's."""

    final_cid_phase = CidPhase.PRE_ROUND


def load_parent(spec: JobSpec, loaded: LoadedModel, num_labels: int) -> None:
    """Replace `loaded`'s model and tokenizer with the saved parent's (same model name and labels)."""
    dtype = next(loaded.model.parameters()).dtype
    parent, parent_spec = load_saved_model(spec.neurontune.parent_artifact, device=str(loaded.device), dtype=dtype)
    if parent_spec.model != spec.model:
        raise ValueError(f"the parent was trained from model '{parent_spec.model}', the spec names "
                         f"'{spec.model}': set model to '{parent_spec.model}'")
    if spec.lora is not None and lora_of(parent.model) != spec.lora:
        raise ValueError(f"the spec's lora ({spec.lora}) is not the parent's ({lora_of(parent.model)}): leave "
                         "lora unset, the parent's adapters come with it")
    if parent.model.head.bias.shape[0] != num_labels:
        raise ValueError(f"the parent has {parent.model.head.bias.shape[0]} labels, the dataset {num_labels}")
    loaded.model, loaded.tokenizer = parent.model, parent.tokenizer


def run_neurontune(spec: JobSpec, data: ConfoundedDataset, loaded: LoadedModel, recorder: Recorder,
                   should_stop: Callable[[], bool] = lambda: False, checkpointer: Checkpointer | None = None,
                   resume: dict | None = None) -> TrainResult:
    """The job: parent, NeuronTune on the confound-free view, then evaluation with confounds.

    loaded.model ends as the tuned model (loaded.model/tokenizer are the parent's when loaded from
    an artifact). Metrics: "train", "dev", "test" and "cid" (= "cid_after") of the tuned model,
    "cid_before", "parent" ({"train", "dev", "test", "cid", "source", "steps"}), "neurontune"
    (diagnostics()), "steps" (the parent's label steps here, 0 from an artifact), "collapsed",
    "wall_s". A parent finetuned here takes checkpoints and resumes like any run of the shared loop
    (checkpointer, resume: jobs.methods.loop.run_method); NeuronTune itself takes minutes and none.
    The same findings go to recorder.diagnostic under DIAGNOSTIC_NAMES (what the store
    keeps and the dashboard draws)."""
    start = time.perf_counter()
    opts, max_length = spec.neurontune, spec.train.max_length
    torch.manual_seed(spec.seed)

    # The parent, and its numbers with confounds (evaluation only).
    cid_before = None
    if opts.parent_artifact:
        recorder.progress(0, 1, None, phase="NeuronTune: loading the parent")
        load_parent(spec, loaded, data.num_labels)
        steps, source = 0, f"artifact {opts.parent_artifact}"
        recorder.log(f"neurontune: parent loaded from {opts.parent_artifact}")
        parent = evaluate_all(loaded.model, loaded.tokenizer, data, max_length)
    else:
        result = run_method(NeuronTuneParent(), spec, data, loaded, recorder, should_stop, checkpointer, resume)
        if result.stopped:
            return result
        if result.collapsed:  # tuned anyway, so the job reports like any other; the flag carries over
            recorder.log("neurontune: the parent collapsed (train accuracy at chance); its neurons say little")
        steps, source = result.steps, "finetune"
        parent = {name: result.metrics[name] for name in ("train", "dev", "test")}
        cid_before = result.metrics["cid"]
    # The same probes and pool as the parent's finetuning used (both drawn from spec.seed).
    train = Examples.from_encoded(encode(loaded.tokenizer, data.train.texts, max_length), data.train.labels,
                                  device=loaded.device)
    cid = LiveCID(spec, train, data.train.labels, data.train.confounds, data.access_index(), recorder)
    at, total = (steps, steps) if steps else (0, 1)  # progress: the parent's label steps, or 0 of 1
    if cid_before is None:
        recorder.progress(at, total, None, phase="NeuronTune: measuring the parent's CID")
        cid_before = cid.measure(loaded.model, steps, CidPhase.PRE_ROUND)
    parent.update(cid=cid_before, source=source, steps=steps)
    recorder.progress(at, total, None, phase="NeuronTune: finding biased neurons and retraining the head")

    # NeuronTune sees class labels only.
    tuned = tune(loaded.model, loaded.tokenizer, data.without_confounds(), opts, max_length, spec.seed, recorder,
                 should_stop)
    if tuned.stopped:
        recorder.log("neurontune: stopped while retraining the head")
        return TrainResult({"steps": steps, "wall_s": time.perf_counter() - start}, stopped=True, collapsed=False,
                           steps=steps)

    # The tuned model, evaluated like the parent.
    recorder.progress(at, total, None, phase="NeuronTune: evaluating the tuned model")
    metrics = evaluate_all(loaded.model, loaded.tokenizer, data, max_length)
    cid_after = cid.measure(loaded.model, steps, CidPhase.FINAL)
    collapsed = is_collapsed(metrics["train"]["acc"], data.num_labels) or is_collapsed(
        parent["train"]["acc"], data.num_labels)
    metrics.update(cid=cid_after, cid_before=cid_before, cid_after=cid_after, parent=parent,
                   neurontune=diagnostics(tuned, opts, data.label_names), steps=steps, collapsed=collapsed,
                   wall_s=time.perf_counter() - start)
    for name, payload in diagnostic_payloads(metrics["neurontune"]).items():
        recorder.diagnostic(name, payload)
    recorder.diagnostic("neurontune.before_after", before_after(parent, metrics))
    recorder.progress(total, total, 0.0, phase="finishing")
    recorder.log(f"neurontune: worst-group test accuracy {parent['test']['worst_group_acc']} -> "
                 f"{metrics['test']['worst_group_acc']}, CID {cid_before:.4f} -> {cid_after:.4f}")
    return TrainResult(metrics, stopped=False, collapsed=collapsed, steps=steps)
