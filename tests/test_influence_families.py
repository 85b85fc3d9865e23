"""Exactness of the fast influence engine for every model family (issue 18): in float64, the fast
pairwise scores, the influence loss J and dJ/dtheta against the reference per-example loop, to a
relative 1e-9, in the scopes all, head, top and lora (LoRA adapters on q and v, or on the fused
qkv projection), plus one finite-difference check of dJ/dtheta per family, independent of both
paths.

The models are tiny random ones of each family's own config class (tests/tiny_families.py),
loaded as a user's would be (jobs.models.load_model: the family's pooling, decoders' last real
token, an eos pad token) and jittered so that examples' gradients differ (jittered_tiny64 says why).

Several families compute attention's softmax, their RMSNorm or their rotary embedding in float32
whatever the model's dtype (HF's eager attention, LlamaRMSNorm and its copies, GemmaRMSNorm,
ModernBERT's q.float()): a "float64" model of theirs is float32-exact only, and fast and
reference agree to ~1e-7 there (the test at the end). So that 1e-9 tests the engine and not
those roundings, the float64 tests raise them to float64. Rotary attention has no parameters:
it needs no rule of its own (the exactness of Llama, Qwen, Gemma, Phi and ModernBERT shows it).
"""
from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from jobs.influence import Examples, InfluenceArguments, eval_mode, influence_loss, pairwise_scores
from jobs.influence.fast.sites import plan_sites
from jobs.influence.scope import scope_parameters
from jobs.lora import add_lora
from jobs.models import load_model
from jobs.spec import LoraSpec
from tests.tiny_families import DECODERS, ENCODERS, tiny_family_dir

FAMILIES = ENCODERS + DECODERS
TEXTS = ["the cat sat", "a dog ran home now", "red car", "sun and moon rise", "green road", "rain falls hard",
         "cold"]
LABELS = [1, 0, 1, 0, 1, 0, 1]
PROBES, TRAIN = [0, 1, 2], [3, 4, 5, 6]
A_ROWS, B_ROWS = [3, 4, 4, 5, 5, 6], [6, 5, 3, 6, 3, 4]     # k = 2 of the 4 training examples per probe
# Families that compute something once for the whole batch (DeBERTa: relative position
# embeddings, read as rel_embeddings.weight and projected by the layers' own query/key Linears):
# their scopes with those parameters run through the factors one example at a time.
PER_EXAMPLE = {("deberta-v2", "all"), ("deberta-v2", "top"), ("deberta-v2", "lora")}
REL = 1e-9


# LoRA targets: the attention's query and value, or the fused projection where there is one.
FUSED_QKV = {"gpt2", "modernbert"}


def _float64_rms_forward(self, x):
    """An RMSNorm's forward computed in the input's dtype (the families' upcast to float32 off)."""
    h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self._eps64)
    return h * (1 + self.weight) if type(self).__name__.startswith("Gemma") else self.weight * h


_softmax = F.softmax


def _softmax_in_input_dtype(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None and input.dtype == torch.float64:
        dtype = None
    return _softmax(input, dim=dim, _stacklevel=_stacklevel, dtype=dtype)


@pytest.fixture
def float64_softmax(monkeypatch):
    """Softmax, and ModernBERT's rotary embedding (q.float()), in float64 for float64 inputs."""
    from transformers.models.llama import modeling_llama
    from transformers.models.modernbert import modeling_modernbert

    monkeypatch.setattr(F, "softmax", _softmax_in_input_dtype)
    monkeypatch.setattr(modeling_modernbert, "apply_rotary_pos_emb", modeling_llama.apply_rotary_pos_emb)


_BUILT: dict = {}


def build(family: str, root, float64_norms: bool = True, lora: bool = False):
    """(model, examples) of `family`: float64, jittered by N(0, 0.2^2), eval mode; with `lora`,
    adapters added first (and jittered too: lora_B starts at zero)."""
    key = (family, float64_norms, lora)
    if key not in _BUILT:
        loaded = load_model(str(tiny_family_dir(family, root)), device="cpu", dtype=torch.float64, seed=0)
        model, tokenizer = loaded.model.eval(), loaded.tokenizer
        if lora:
            add_lora(model, LoraSpec(r=2, alpha=4, targets=["qkv"] if family in FUSED_QKV else ["q", "v"]))
            model.eval()
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.2 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
        if float64_norms:
            for module in model.modules():
                if type(module).__name__.endswith("RMSNorm"):
                    module._eps64 = float(getattr(module, "variance_epsilon", getattr(module, "eps", 1e-6)))
                    module.forward = types.MethodType(_float64_rms_forward, module)
        encoded = tokenizer(TEXTS, padding=True, return_tensors="pt")
        _BUILT[key] = model, Examples(encoded["input_ids"], encoded["attention_mask"], torch.tensor(LABELS))
    return _BUILT[key]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("families")


def scopes_of(model) -> list[str]:
    assert model.layer_names(), "every family's blocks are found (jobs/families)"
    return ["all", "head", "top"]


def relative_close(fast: torch.Tensor, reference: torch.Tensor, rel: float = REL) -> float:
    """Every entry within rel of the largest reference entry; returns the relative error."""
    error = float((fast - reference).abs().max() / reference.abs().max())
    assert error <= rel, error
    return error


def loss_and_gradient(model, examples: Examples, args: InfluenceArguments):
    model.zero_grad(set_to_none=True)
    j = influence_loss(model, examples.take(PROBES), examples.take(A_ROWS), examples.take(B_ROWS), args)
    j.backward()
    grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in model.parameters()])
    model.zero_grad(set_to_none=True)
    return j.detach(), grad


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_scores_loss_and_gradient_equal_the_reference_loop(family, root, float64_softmax):
    model, examples = build(family, root)
    probes, train = examples.take(PROBES), examples.take(TRAIN)
    for scope in scopes_of(model):
        args = InfluenceArguments(scope=scope, top_layers=1)
        reference = args.model_copy(update={"reference": True})
        paths = []
        fast = pairwise_scores(model, probes, train, args, on_path=paths.append)
        expected = "fast-per-example" if (family, scope) in PER_EXAMPLE else "fast"
        assert [p.path for p in paths] == [expected], (scope, paths)
        relative_close(fast, pairwise_scores(model, probes, train, reference))
        dot = pairwise_scores(model, probes, train, args.model_copy(update={"kind": "dot"}))
        relative_close(dot, pairwise_scores(model, probes, train, reference.model_copy(update={"kind": "dot"})))
        j_fast, grad_fast = loss_and_gradient(model, examples, args)
        j_reference, grad_reference = loss_and_gradient(model, examples, reference)
        assert float(j_reference) > 1e-4          # not a vacuous comparison
        relative_close(j_fast, j_reference)
        relative_close(grad_fast, grad_reference)


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_engine_is_exact_over_lora_adapters(family, root, float64_softmax):
    """Scope lora (PEFT's lora_A and lora_B are Linear sites): scores, J and dJ/dtheta."""
    model, examples = build(family, root, lora=True)
    probes, train = examples.take(PROBES), examples.take(TRAIN)
    args = InfluenceArguments(scope="lora")
    reference = args.model_copy(update={"reference": True})
    paths = []
    relative_close(pairwise_scores(model, probes, train, args, on_path=paths.append),
                   pairwise_scores(model, probes, train, reference))
    expected = "fast-per-example" if (family, "lora") in PER_EXAMPLE else "fast"  # DeBERTa: its query_proj
    assert [p.path for p in paths] == [expected], paths                          # sees the batch's positions
    j_fast, grad_fast = loss_and_gradient(model, examples, args)
    j_reference, grad_reference = loss_and_gradient(model, examples, reference)
    assert float(j_reference) > 1e-6
    relative_close(j_fast, j_reference)
    relative_close(grad_fast, grad_reference)


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_gradient_matches_a_central_difference(family, root, float64_softmax):
    """dJ/dtheta (fast path, scope all) along a random unit direction of every parameter, against
    (J(theta + eps v) - J(theta - eps v)) / 2 eps."""
    model, examples = build(family, root)
    args, eps = InfluenceArguments(scope="all"), 1e-4
    _, grad = loss_and_gradient(model, examples, args)
    direction = torch.randn(grad.shape, generator=torch.Generator().manual_seed(0), dtype=grad.dtype)
    direction /= direction.norm()
    params = list(model.parameters())
    theta = parameters_to_vector(params).detach().clone()
    values = []
    try:
        for sign in (1, -1):
            vector_to_parameters(theta + sign * eps * direction, params)
            values.append(float(influence_loss(model, examples.take(PROBES), examples.take(A_ROWS),
                                               examples.take(B_ROWS), args).detach()))
    finally:
        vector_to_parameters(theta, params)
    numeric, analytic = (values[0] - values[1]) / (2 * eps), float(grad @ direction)
    assert abs(numeric - analytic) <= 1e-5 * abs(analytic), (numeric, analytic)


@pytest.mark.parametrize("family", ["llama", "gemma"])
def test_float32_norms_are_found_and_agree_to_their_rounding(family, root):
    """Unpatched, Llama's and Gemma's RMSNorm compute in float32: the plan finds it (the gradient
    check then allows float32 rounding for them), and fast and reference agree to ~1e-7."""
    model, examples = build(family, root, float64_norms=False)
    params = [p for _, p in scope_parameters(model, "all")]
    with eval_mode(model):
        plan = plan_sites(model, params, examples.input_ids, examples.attention_mask, examples.labels)
    norms = [s for s in plan.sites if s.kind == "norm"]
    assert norms and all(s.norm == "rms" and s.compute == torch.float32 for s in norms)
    probes, train = examples.take(PROBES), examples.take(TRAIN)
    args = InfluenceArguments(scope="all")
    relative_close(pairwise_scores(model, probes, train, args),
                   pairwise_scores(model, probes, train, args.model_copy(update={"reference": True})), 1e-5)
