"""LoRA adapters (jobs/lora.py): the spec and the flag, the targets of each family, the fast
influence engine on the adapters against its reference in float64 (1e-9 relative), and jobs that
train adapters alone (finetune, influence tuning, NeuronTune from a saved adapter) on the tiny BERT
and a tiny Llama, whose saved adapters reload to the same logits."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from jobs.influence import Examples, InfluenceArguments, influence_loss, pairwise_scores, scope_parameters
from jobs.influence.fast.sites import scope_sites
from jobs.lora import ADAPTER_FILE, TARGETS, add_lora, is_adapter, lora_of, resolve_targets
from jobs.models import encode, load_model
from jobs.recorder import MemoryRecorder
from jobs.runner import load_saved_model, run
from jobs.spec import JobSpec, LoraSpec, parse_lora
from tests.tiny_families import tiny_family_dir

TEXTS = ["positive . the cat sat on the mat", "positive . a dog ran home",
         "positive . the big red car stopped by the old house on the hill", "negative . a tree",
         "negative . sun and moon", "positive . green road", "negative . the small blue boat sailed on",
         "negative . rain", "positive . birds sing in the tall old trees at dawn", "negative . cold wind"]
LABELS = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
PROBES, A_ROWS, B_ROWS = [0, 2], [1, 1, 2, 0, 1, 5], [3, 4, 7, 6, 9, 8]
EXACT = 1e-9
# Llama (Qwen, Mistral, Phi alike) normalises (RMSNorm) and takes its attention softmax in float32
# even in a float64 model, so its "float64" gradients carry float32 rounding: the fast and the
# per-example paths agree to about 5e-7 of the largest entry there, and no finite difference of J
# is finer than that. Its texts are of one length (8 tokens): padded, the float32 reductions also
# round differently in a batch than in a row alone.
FLOAT32_FLOOR = 1e-5
EVEN_TEXTS = ["positive the cat sat on mat", "positive a dog ran home fast", "positive big red car stopped there",
              "negative a tree stood very tall", "negative sun and moon rose late", "positive green road went far away",
              "negative small blue boat sailed on", "negative rain fell all night long",
              "positive birds sing in tall trees", "negative cold wind blew from north"]


def family_dir(family: str, root) -> str:
    """A tiny decoder saved as checkpoints ship it (no pad token); given eos as pad here unless
    the loader already does so."""
    path = tiny_family_dir(family, root)
    if load_model(str(path), device="cpu").tokenizer.pad_token is None:
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        tokenizer.pad_token = tokenizer.eos_token
        tokenizer.save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="module")
def families_root(tmp_path_factory):
    return tmp_path_factory.mktemp("families")


@pytest.fixture(scope="module")
def llama_dir(families_root):
    return family_dir("llama", families_root)


# --- the spec, the flag ------------------------------------------------------------------------

def test_the_flag_and_the_spec():
    assert parse_lora("r=8,alpha=16,targets=q,v") == {"r": "8", "alpha": "16", "targets": ["q", "v"]}
    assert parse_lora("targets=q,v,o,r=4") == {"targets": ["q", "v", "o"], "r": "4"}
    assert parse_lora("") == {}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_lora("r=8,16")
    spec = JobSpec.model_validate({"model": "tiny", "lora": parse_lora("r=8,alpha=16,targets=q,v"),
                                   "influence": {"scope": "lora"}})
    assert spec.lora == LoraSpec(r=8, alpha=16, targets=["q", "v"]) and spec.influence.scope == "lora"
    assert JobSpec.stored(spec.model_dump()).lora == spec.lora          # as a worker reads a stored spec
    assert JobSpec.stored(JobSpec().model_dump()).lora is None
    assert LoraSpec(targets="q v+intermediate.dense").targets == ["q", "v", "intermediate.dense"]
    for bad in ({"r": 0}, {"r": 4096}, {"alpha": 0}, {"dropout": 1.0}, {"targets": []}, {"targets": "q;v"},
                {"targets": "q,q"}, {"rank": 8}):
        with pytest.raises(ValidationError):
            LoraSpec.model_validate(bad)
    with pytest.raises(ValidationError, match="scope 'lora'"):
        JobSpec.model_validate({"diagnostics": {"scope": "lora"}})
    # NeuronTune's parent brings its own adapters
    JobSpec.model_validate({"method": "neurontune", "neurontune": {"parent_artifact": "x"},
                            "diagnostics": {"scope": "lora"}})
    schema = JobSpec.model_json_schema()
    lora = schema["$defs"]["LoraSpec"]["properties"]
    assert lora["r"]["maximum"] == 1024 and lora["targets"]["maxItems"] == 32
    assert "lora" in schema["$defs"]["Scope"]["enum"]  # InfluenceSpec.scope refers to it


def test_the_cli_builds_the_spec():
    from jobs.cli import build_parser, spec_from_args

    args = build_parser()[0].parse_args(["spec", "--model", "tiny", "--lora", "r=4,alpha=8,targets=q,v,o",
                                      "--scope", "lora"])
    spec = spec_from_args(args)
    assert spec.lora == LoraSpec(r=4, alpha=8, targets=["q", "v", "o"]) and spec.influence.scope == "lora"
    assert spec_from_args(build_parser()[0].parse_args(["spec", "--lora"])).lora == LoraSpec()


# --- targets and the adapted model -------------------------------------------------------------

def test_short_targets_take_each_familys_names(llama_dir, tmp_path):
    bert = load_model("tiny", device="cpu").model
    assert resolve_targets(bert.encoder, ["q", "v"]) == [
        f"encoder.layer.{i}.attention.self.{m}" for i in range(2) for m in ("query", "value")]
    assert resolve_targets(bert.encoder, ["o"]) == [f"encoder.layer.{i}.attention.output.dense" for i in range(2)]
    llama = load_model(llama_dir, device="cpu").model
    assert resolve_targets(llama.encoder, ["q", "v"]) == [
        f"layers.{i}.self_attn.{m}" for i in range(2) for m in ("q_proj", "v_proj")]
    assert resolve_targets(llama.encoder, ["up_proj"]) == [f"layers.{i}.mlp.up_proj" for i in range(2)]
    gpt2 = load_model(family_dir("gpt2", tmp_path), device="cpu").model
    with pytest.raises(ValueError, match="fused .c_attn.: use target qkv"):
        resolve_targets(gpt2.encoder, ["q"])
    assert resolve_targets(gpt2.encoder, ["qkv"]) == [f"h.{i}.attn.c_attn" for i in range(2)]
    with pytest.raises(ValueError, match="'nothing' matches no Linear module.*query"):
        resolve_targets(bert.encoder, ["nothing"])
    assert set(TARGETS) == {"q", "k", "v", "o", "qkv"}


def test_the_base_is_frozen_and_starts_unchanged():
    loaded = load_model("tiny", device="cpu")
    model = loaded.model.eval()
    enc = encode(loaded.tokenizer, TEXTS[:3], 32)
    before = model(enc.input_ids, enc.attention_mask)[0]
    modules = add_lora(model, LoraSpec(r=4, alpha=8, targets=["q", "v"]))
    assert len(modules) == 4 and lora_of(model) == LoraSpec(r=4, alpha=8, targets=["q", "v"])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters() if is_adapter(n) or n.startswith("head.")}
    assert len([n for n in trainable if is_adapter(n)]) == 8
    torch.testing.assert_close(model(enc.input_ids, enc.attention_mask)[0], before, rtol=0, atol=0)  # lora_B = 0
    assert [n for n, _ in scope_parameters(model, "lora")] == [n for n, _ in model.named_parameters() if is_adapter(n)]
    assert {n for n, _ in scope_parameters(model, "all")} == trainable
    with pytest.raises(ValueError, match="has none"):
        scope_parameters(load_model("tiny", device="cpu").model, "lora")
    with pytest.raises(ValueError, match="already"):
        add_lora(model, LoraSpec())


# --- the fast engine on the adapters, float64 --------------------------------------------------

def jittered_lora(name: str, targets: list[str], texts: list[str] = TEXTS):
    """(model, Examples): `name` with adapters, float64, eval mode, every weight (lora_B included,
    which starts at 0) jittered so that no gradient is degenerate."""
    loaded = load_model(name, device="cpu", dtype=torch.float64)
    add_lora(loaded.model, LoraSpec(r=4, alpha=8, dropout=0.1, targets=targets))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in loaded.model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    loaded.model.eval()
    return loaded.model, Examples.from_encoded(encode(loaded.tokenizer, texts, 32), LABELS)


# family: (adapter targets, texts, tolerance). GPT-2's fused c_attn is a Conv1D (PEFT's fan_in_fan_out).
CASES = {"tiny": (["q", "v", "o"], TEXTS, EXACT), "gpt2": (["qkv", "o"], TEXTS, EXACT),
         "llama": (["q", "v", "o"], EVEN_TEXTS, FLOAT32_FLOOR)}


@pytest.fixture(scope="module", params=list(CASES))
def lora64(request, families_root):
    """(model, examples, tolerance) of a case of CASES."""
    targets, texts, tolerance = CASES[request.param]
    name = "tiny" if request.param == "tiny" else family_dir(request.param, families_root)
    model, examples = jittered_lora(name, targets, texts)
    with torch.no_grad():
        pooled = model.pooled(examples.input_ids, examples.attention_mask)
    if torch.allclose(pooled, pooled[:1].expand_as(pooled), rtol=1e-12, atol=1e-12):
        # A decoder pooled at position 0 sees the first token alone: every example's gradient is
        # the same up to its label, and J and dJ/dtheta are rounding noise (issue 18 item 2).
        pytest.skip("this loader pools a decoder at its first token: the comparison would be vacuous")
    return model, examples, tolerance


def relative_close(fast: torch.Tensor, reference: torch.Tensor, rel: float) -> None:
    torch.testing.assert_close(fast, reference, rtol=rel, atol=rel * float(reference.abs().max()))


def loss_and_gradient(model, examples, **kwargs) -> tuple[float, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    j = influence_loss(model, examples.take(PROBES), examples.take(A_ROWS), examples.take(B_ROWS),
                       InfluenceArguments(**kwargs))
    j.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in trainable])
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)  # the base gets none
    model.zero_grad(set_to_none=True)
    return float(j.detach()), grad


def test_the_adapters_are_linear_sites(lora64):
    """So the default paths below are the fast engine's, not its per-example fallback."""
    model, _, _ = lora64
    params = [p for _, p in scope_parameters(model, "lora")]
    sites = scope_sites(model, params)
    assert sites is not None and {s.kind for s in sites} == {"linear"}
    assert {s.name.split(".")[-2] for s in sites} == {"lora_A", "lora_B"} and not any(s.bias for s in sites)


@pytest.mark.parametrize("kind", ["cosine", "dot"])
def test_fast_scores_over_the_adapters_equal_the_reference(lora64, kind):
    model, examples, tolerance = lora64
    probes = examples.take([0, 3, 8])
    reference = pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind, scope="lora", reference=True))
    relative_close(pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind, scope="lora")), reference,
                   tolerance)


@pytest.mark.parametrize("scope", ["lora", "head"])
@pytest.mark.parametrize("kind", ["cosine", "dot"])
def test_fast_loss_and_its_gradient_over_the_adapters_equal_the_reference(lora64, kind, scope):
    model, examples, tolerance = lora64
    fast_value, fast_grad = loss_and_gradient(model, examples, kind=kind, scope=scope)
    slow_value, slow_grad = loss_and_gradient(model, examples, kind=kind, scope=scope, reference=True)
    assert fast_value == pytest.approx(slow_value, rel=tolerance)
    relative_close(fast_grad, slow_grad, tolerance)
    assert fast_grad.abs().max() > 0


def test_the_loss_gradient_over_the_adapters_matches_finite_differences(lora64):
    """Independent of both paths: a central difference of J along a random direction of the
    trainable parameters, Richardson-extrapolated (float64; J is steep along it: the plain central
    difference is off by 1e-6 relative at step 1e-5, the extrapolation by about 1e-11)."""
    model, examples, tolerance = lora64
    if tolerance != EXACT:
        pytest.skip("float32 inside the model: J's rounding swamps any finite difference")
    value, grad = loss_and_gradient(model, examples, kind="cosine", scope="lora")
    trainable = [p for p in model.parameters() if p.requires_grad]
    direction = [torch.randn(p.shape, generator=torch.Generator().manual_seed(i), dtype=p.dtype)
                 for i, p in enumerate(trainable)]
    step = 1e-5

    def j_at(shift: float) -> float:
        with torch.no_grad():
            for p, d in zip(trainable, direction, strict=True):
                p.add_(shift * d)
        try:
            return float(influence_loss(model, examples.take(PROBES), examples.take(A_ROWS),
                                        examples.take(B_ROWS), InfluenceArguments(kind="cosine", scope="lora")).detach())
        finally:
            with torch.no_grad():
                for p, d in zip(trainable, direction, strict=True):
                    p.sub_(shift * d)

    def central(h: float) -> float:
        return (j_at(h) - j_at(-h)) / (2 * h)

    numeric = (4 * central(step / 2) - central(step)) / 3
    analytic = float(grad @ torch.cat([d.reshape(-1) for d in direction]))
    assert value > 0 and analytic == pytest.approx(numeric, rel=1e-8)


# --- jobs ----------------------------------------------------------------------------------------

SIZES = {"train_size": 96, "dev_size": 32, "test_size": 32}


def lora_job(model: str, method: str, **over) -> JobSpec:
    base = {
        "model": model, "method": method, "device": "cpu", "seed": 3,
        "dataset": {"name": "textlen", "options": SIZES},
        "train": {"max_steps": 12, "batch_size": 16, "lr": 3e-3, "max_length": 32, "eval_every": 100},
        "influence": {"interval": 6, "probes_per_round": 4, "k": 2, "round_epochs": 1, "tuples_per_update": 4,
                      "scope": "lora", "lr": 1e-3},
        "diagnostics": {"probes": 4, "sample": 6, "cid_every": 0, "scope": "lora", "histogram_probes": 0},
        "lora": {"r": 4, "alpha": 8, "targets": ["q", "v"]},
    }
    base.update(over)
    return JobSpec.model_validate(base)


def base_and_adapters(model) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    state = {n: p.detach().clone() for n, p in model.named_parameters()}
    return ({n: t for n, t in state.items() if not (is_adapter(n) or n.startswith("head."))},
            {n: t for n, t in state.items() if is_adapter(n) or n.startswith("head.")})


def logits_of(loaded, texts=TEXTS) -> torch.Tensor:
    enc = encode(loaded.tokenizer, texts, 32)
    loaded.model.eval()
    with torch.no_grad():
        return loaded.model(enc.input_ids.to(loaded.device), enc.attention_mask.to(loaded.device))[0]


@pytest.mark.parametrize("model", ["tiny", "llama"])
@pytest.mark.parametrize("method", ["finetune", "influence-tuning"])
def test_a_lora_job_trains_the_adapters_and_head_alone_and_reloads(model, method, llama_dir, tmp_path):
    name = "tiny" if model == "tiny" else llama_dir
    job = lora_job(name, method)
    recorder = MemoryRecorder()
    out = run(job, recorder, artifact_dir=tmp_path / "saved")
    assert out.status in ("succeeded", "collapsed"), out.metrics
    assert any(line.startswith("LoRA r=4") and "the base is frozen" in line for line in recorder.logs)
    if method == "influence-tuning":
        assert len(recorder.series("loss/influence")) >= 1  # an influence round ran its updates

    # the base is the one load_model builds; adapters and head moved
    fresh = load_model(name, num_labels=2, device="cpu", seed=job.seed)
    add_lora(fresh.model, job.lora)
    saved, saved_spec = load_saved_model(tmp_path / "saved", device="cpu")
    base0, adapters0 = base_and_adapters(fresh.model)
    base1, adapters1 = base_and_adapters(saved.model)
    assert base0.keys() == base1.keys() and all(torch.equal(base0[n], base1[n]) for n in base0)
    moved = [n for n in adapters0 if not torch.equal(adapters0[n], adapters1[n])]
    assert {n.split(".")[-3] for n in moved if is_adapter(n)} == {"lora_A", "lora_B"}
    assert "head.weight" in moved

    # the artifact holds the adapters and the head, not the base, and reloads to the same logits
    state = torch.load(tmp_path / "saved" / "model.pt", weights_only=True)
    assert set(state) == set(adapters1)
    assert json.loads((tmp_path / "saved" / ADAPTER_FILE).read_text())["lora"] == job.lora.model_dump()
    assert saved_spec.lora == job.lora and lora_of(saved.model) == job.lora
    again, _ = load_saved_model(tmp_path / "saved", device="cpu")
    torch.testing.assert_close(logits_of(again), logits_of(saved), rtol=0, atol=0)


@pytest.mark.parametrize("model", ["tiny", "llama"])
def test_the_saved_adapters_give_the_trained_models_logits(model, llama_dir, tmp_path):
    from jobs.data import load_dataset
    from jobs.methods import train
    from jobs.saved_model import save_model

    job = lora_job("tiny" if model == "tiny" else llama_dir, "finetune")
    data = load_dataset(job.dataset)
    loaded = load_model(job.model, num_labels=data.num_labels, device="cpu", seed=job.seed)
    add_lora(loaded.model, job.lora)
    train(job, data, loaded, MemoryRecorder())
    save_model(loaded, job, tmp_path)
    saved, _ = load_saved_model(tmp_path, device="cpu")
    torch.testing.assert_close(logits_of(saved, data.test.texts), logits_of(loaded, data.test.texts),
                               rtol=0, atol=0)


def test_neurontune_tunes_a_saved_lora_model_and_a_changed_base_is_refused(tmp_path):
    parent = run(lora_job("tiny", "finetune"), MemoryRecorder(), artifact_dir=tmp_path / "parent")
    assert parent.status in ("succeeded", "collapsed")
    job = lora_job("tiny", "neurontune", lora=None, neurontune={"parent_artifact": str(tmp_path / "parent")})
    out = run(job, MemoryRecorder(), artifact_dir=tmp_path / "tuned")
    assert out.status in ("succeeded", "collapsed") and out.metrics["steps"] == 0
    assert out.metrics["cid_before"] == pytest.approx(parent.metrics["cid"], abs=1e-6)
    tuned, _ = load_saved_model(tmp_path / "tuned", device="cpu")
    assert lora_of(tuned.model) == LoraSpec(r=4, alpha=8, targets=["q", "v"])
    assert torch.equal(tuned.model.encoder.encoder.layer[0].attention.self.query.lora_B.default.weight,
                       load_saved_model(tmp_path / "parent", device="cpu")[0].model.encoder.encoder.layer[0]
                       .attention.self.query.lora_B.default.weight)

    with pytest.raises(ValueError, match="not the parent's"):
        run(lora_job("tiny", "neurontune", lora={"r": 2}, neurontune={"parent_artifact": str(tmp_path / "parent")}),
            MemoryRecorder())
    spec_path = tmp_path / "parent" / "spec.json"
    spec_path.write_text(spec_path.read_text().replace('"seed": 3', '"seed": 4'))  # another random base
    with pytest.raises(ValueError, match="not those the adapters were trained on"):
        load_saved_model(tmp_path / "parent", device="cpu")


def test_a_stopped_lora_job_resumes_to_the_unstopped_numbers(tmp_path):
    """The checkpoint holds the adapters (and the frozen base): an influence-tuning LoRA job stopped
    after label step 6 resumes to the numbers of one never stopped."""
    job = lora_job("tiny", "influence-tuning")
    oracle = run(job, MemoryRecorder())
    recorder = MemoryRecorder()
    first = run(job, recorder, lambda: any(step >= 6 for step, _, _ in recorder.progresses),
                checkpoint_dir=tmp_path, checkpoint_every_s=3600)
    assert first.status == "cancelled"
    second = run(job, recorder, checkpoint_dir=tmp_path, checkpoint_every_s=3600)
    assert any(line.startswith("resumed from the checkpoint after step") for line in recorder.logs)
    for key in ("test", "dev", "train", "cid", "steps"):
        assert second.metrics[key] == oracle.metrics[key], key
