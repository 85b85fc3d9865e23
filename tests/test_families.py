"""Every family a researcher brings (issue 18): load, forward, pooling, scopes and `run`, on tiny
random models of each family saved as a user would have them (tests/tiny_families.py).

The full method matrix runs on three representative families (Llama: RMSNorm and rotary; GPT-2:
Conv1D and LayerNorm; ModernBERT: an encoder without a pooler); finetune and influence tuning run
on every family.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from jobs.families import GENERIC, resolve
from jobs.families.pooling import last_token, positions
from jobs.influence.scope import scope_parameters
from jobs.models import Classifier, encode, load_model
from jobs.recorder import MemoryRecorder
from jobs.runner import run
from jobs.spec import METHODS, JobSpec
from tests.helpers import TEST_DEVICE
from tests.tiny_families import DECODERS, ENCODERS, tiny_family_dir

FAMILIES = ENCODERS + DECODERS
TEXTS = ["a short one", "a much longer text with many more words in it", "middling text here"]

# family -> (declared name, kind, pooling, what sits between the blocks and the head, the blocks' path)
EXPECTED = {
    "bert": ("BERT", "encoder", "pooler", ("pooler",), "encoder.layer"),
    "roberta": ("RoBERTa", "encoder", "pooler", ("pooler",), "encoder.layer"),
    "xlm-roberta": ("XLM-R", "encoder", "pooler", ("pooler",), "encoder.layer"),
    "electra": ("ELECTRA", "encoder", "cls", (), "encoder.layer"),
    "distilbert": ("DistilBERT", "encoder", "cls", (), "transformer.layer"),
    "albert": ("ALBERT", "encoder", "pooler", ("pooler",), "encoder.albert_layer_groups"),
    "deberta-v2": ("DeBERTa-v2/v3", "encoder", "cls", (), "encoder.layer"),
    "modernbert": ("ModernBERT", "encoder", "cls", ("final_norm",), "layers"),
    "llama": ("Llama", "decoder", "last", ("norm",), "layers"),
    "mistral": ("Mistral", "decoder", "last", ("norm",), "layers"),
    "qwen2": ("Qwen2", "decoder", "last", ("norm",), "layers"),
    "qwen3": ("Qwen3", "decoder", "last", ("norm",), "layers"),
    "gemma": ("Gemma", "decoder", "last", ("norm",), "layers"),
    "gpt2": ("GPT-2", "decoder", "last", ("ln_f",), "h"),
    "phi": ("Phi", "decoder", "last", ("final_layernorm",), "layers"),
}
REPRESENTATIVE = ["llama", "gpt2", "modernbert"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("families")


def load(family: str, root, dtype=torch.float32, pad_side: str = "right", seed: int = 0):
    loaded = load_model(str(tiny_family_dir(family, root, pad_side=pad_side)), device="cpu", dtype=dtype, seed=seed)
    loaded.model.eval()
    return loaded


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_loads_with_its_declared_layout_and_forwards(family, root):
    loaded = load(family, root)
    name, kind, pooling, after, blocks = EXPECTED[family]
    layout = loaded.layout
    assert (layout.family, layout.kind, layout.pooling, layout.after_blocks) == (name, kind, pooling, after)
    assert loaded.pooling == pooling and loaded.model.pooling == pooling
    assert layout.blocks == ((f"{blocks}.0",) if family == "albert" else (f"{blocks}.0", f"{blocks}.1"))
    assert loaded.model.layer_names() == [f"encoder.{b}" for b in layout.blocks]
    assert loaded.model.encoder.config._attn_implementation == "eager"
    enc = encode(loaded.tokenizer, TEXTS, 32)
    with torch.no_grad():
        logits, pooled = loaded.model(enc.input_ids, enc.attention_mask)
    assert logits.shape == (3, 2) and pooled.shape == (3, loaded.model.hidden_size)
    assert torch.isfinite(logits).all()
    architecture = loaded.architecture()
    assert (architecture.family, architecture.kind, architecture.pooling) == (name, kind, pooling)
    assert architecture.blocks == len(layout.blocks)


@pytest.mark.parametrize("family", DECODERS)
def test_a_decoder_without_a_pad_token_pads_with_its_eos_and_the_mask_keeps_real_eos(family, root):
    loaded = load(family, root)
    tokenizer, config = loaded.tokenizer, loaded.model.encoder.config
    assert tokenizer.pad_token == tokenizer.eos_token == "[SEP]"
    assert config.pad_token_id == tokenizer.pad_token_id == tokenizer.eos_token_id
    assert any("no pad token" in note for note in loaded.notes)
    enc = encode(tokenizer, ["a b", "a b c d e f"], 32)
    short = int(enc.attention_mask[0].sum())
    # The short text's own end token is the pad id, but real: the mask, not the id, says what is padding.
    assert enc.input_ids[0, short - 1] == tokenizer.pad_token_id and enc.attention_mask[0, short - 1] == 1
    assert enc.attention_mask[0, short:].sum() == 0 and enc.attention_mask[1].all()


@pytest.mark.parametrize("family", DECODERS)
def test_a_decoder_pools_the_last_real_token_padded_left_or_right(family, root):
    loaded = load(family, root)
    model, tokenizer = loaded.model, loaded.tokenizer
    with torch.no_grad():
        right, left = (tokenizer(TEXTS, padding="longest", padding_side=side, truncation=True, max_length=64,
                                 return_tensors="pt") for side in ("right", "left"))
        assert not torch.equal(right["attention_mask"], left["attention_mask"])
        for batch in (right, left):
            ids, mask = batch["input_ids"], batch["attention_mask"]
            hidden = model.encoder(input_ids=ids, attention_mask=mask,
                                   position_ids=positions(mask)).last_hidden_state
            pooled = model.pooled(ids, mask)
            index = last_token(mask)
            assert all(mask[i, index[i]] == 1 and mask[i, index[i] + 1:].sum() == 0 for i in range(len(TEXTS)))
            torch.testing.assert_close(pooled, hidden[torch.arange(len(TEXTS)), index], rtol=0, atol=0)
        # Each text alone (no padding at all), padded right, padded left: the same state and logits.
        alone = torch.cat([model.pooled(*encode(tokenizer, [t], 64).batch([0])) for t in TEXTS])
        torch.testing.assert_close(model.pooled(right["input_ids"], right["attention_mask"]), alone,
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(model(left["input_ids"], left["attention_mask"])[0],
                                   model(right["input_ids"], right["attention_mask"])[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", ["llama", "gpt2", "bert"])
def test_a_left_padding_tokenizer_is_set_to_pad_right_with_a_note(family, root):
    loaded = load(family, root, dtype=torch.float64, pad_side="left")
    assert loaded.tokenizer.padding_side == "right"
    assert any("padded on the left" in note for note in loaded.notes)
    assert loaded.architecture().notes == loaded.notes
    # In float64 a left-padded row of a Llama-like model is NaN in transformers' eager attention (its
    # padding attends to nothing); padded right, every row is finite.
    enc = encode(loaded.tokenizer, TEXTS, 32)
    assert enc.attention_mask[:, 0].all()
    with torch.no_grad():
        assert torch.isfinite(loaded.model(enc.input_ids, enc.attention_mask)[0]).all()


@pytest.mark.parametrize("family", ENCODERS)
def test_an_encoder_pools_its_pooler_or_its_first_token(family, root):
    loaded = load(family, root)
    enc = encode(loaded.tokenizer, TEXTS, 32)
    with torch.no_grad():
        out = loaded.model.encoder(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
        pooled = loaded.model.pooled(enc.input_ids, enc.attention_mask)
    expected = out.pooler_output if loaded.pooling == "pooler" else out.last_hidden_state[:, 0]
    torch.testing.assert_close(pooled, expected, rtol=0, atol=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_scopes_mean_the_same_for_every_family(family, root):
    model = load(family, root).model
    _, _, _, after, blocks = EXPECTED[family]
    every = [n for n, _ in model.named_parameters()]
    names = {scope: [n for n, _ in scope_parameters(model, scope, top_layers=1)] for scope in ("all", "top", "head")}
    assert names["all"] == every
    assert names["head"] == ["head.weight", "head.bias"]
    top = set(names["top"])
    last = f"encoder.{model.layout.blocks[-1]}."
    in_last = {n for n in every if n.startswith(last)}
    in_after = {n for n in every if n.startswith(tuple(f"encoder.{a}." for a in after))}
    assert in_last and in_last <= top                       # the last block
    assert in_after <= top and bool(in_after) == bool(after)  # the final norm or the pooler
    assert {"head.weight", "head.bias"} <= top
    assert top == in_last | in_after | {"head.weight", "head.bias"}  # nothing else: no embeddings, no lower block
    two = {n for n, _ in scope_parameters(model, "top", top_layers=2)}
    if family == "albert":  # one shared layer group runs every depth: the top 1 and top 2 depths are the same
        assert two == top and model.layout.block_at_depth == (0, 0)
    else:
        first = f"encoder.{model.layout.blocks[0]}."
        assert not any(n.startswith(first) for n in top)
        assert two == top | {n for n in every if n.startswith(first)}


def test_a_model_type_no_family_declares_goes_the_generic_way(root):
    """OPT: blocks at decoder.layers, its final norm registered before them (found by running it)."""
    from transformers import AutoModel, AutoTokenizer, OPTConfig

    from jobs.models import minilm_path

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = OPTConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, ffn_dim=64,
                       num_attention_heads=2, word_embed_proj_dim=32, max_position_embeddings=128,
                       attn_implementation="eager", pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    target = root / "opt"
    AutoModel.from_config(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    loaded = load_model(str(target), device="cpu")
    layout = loaded.layout
    assert (layout.family, layout.kind, layout.pooling) == (GENERIC, "decoder", "last") and not layout.declared
    assert layout.blocks == ("decoder.layers.0", "decoder.layers.1")
    assert layout.after_blocks == ("decoder.final_layer_norm",)
    top = [n for n, _ in scope_parameters(loaded.model, "top", top_layers=1)]
    assert "encoder.decoder.final_layer_norm.weight" in top and "encoder.decoder.layers.1.fc1.weight" in top
    assert not any(".layers.0." in n or "embed" in n for n in top)
    assert "via the generic path" in loaded.architecture().summary()
    enc = encode(loaded.tokenizer, TEXTS, 32)
    assert torch.isfinite(loaded.model(enc.input_ids, enc.attention_mask)[0]).all()


def test_a_model_whose_blocks_cannot_be_found_is_refused_for_top_never_given_the_head(root):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, attn_implementation="eager")
    base = BertModel(config)
    base.encoder.layer = nn.Sequential(*base.encoder.layer)  # the same blocks, no longer a ModuleList
    model = Classifier(base, 2)
    assert model.layout.blocks == () and model.layer_names() == []
    with pytest.raises(ValueError) as refused:
        scope_parameters(model, "top", top_layers=1)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("scope 'top' needs the transformer blocks")
    assert "BERT's blocks (encoder.layer) are not in BertModel" in message
    assert "no ModuleList of repeated blocks" in message and "use scope 'all' or 'head'" in message
    assert len(scope_parameters(model, "all")) == len(list(model.parameters()))
    assert [n for n, _ in scope_parameters(model, "head")] == ["head.weight", "head.bias"]
    ids = torch.randint(5, 100, (2, 6))
    assert model(ids, torch.ones_like(ids))[0].shape == (2, 2)  # it still runs: only `top` is refused
    assert resolve(base).missing in message


def small_job(path: str, method: str, scope: str = "top") -> JobSpec:
    """4 label steps of 8 on a tiny TextLen, a round at step 2, CID on 2 probes over the head."""
    return JobSpec.model_validate({
        "model": path, "method": method, "device": TEST_DEVICE,
        "dataset": {"name": "textlen", "options": {"train_size": 32, "dev_size": 16, "test_size": 16}},
        "train": {"max_steps": 4, "batch_size": 8, "eval_every": 4, "max_length": 24, "lr": 1e-3},
        "diagnostics": {"probes": 2, "sample": 2, "cid_every": 2, "scope": "head", "histogram_probes": 1},
        "influence": {"interval": 2, "probes_per_round": 2, "k": 1, "tuples_per_update": 2, "round_epochs": 1,
                      "scope": scope, "top_layers": 1, "lr": 1e-4}})


def check_run(spec: JobSpec, family: str) -> None:
    recorder = MemoryRecorder()
    outcome = run(spec, recorder)
    assert outcome.status in ("succeeded", "collapsed")  # a random tiny model may well stay at chance
    assert all(math.isfinite(v) for _, v in recorder.series("loss/train"))
    name, kind, pooling, _, _ = EXPECTED[family]
    architecture = outcome.results.architecture
    assert (architecture.family, architecture.kind, architecture.pooling) == (name, kind, pooling)
    assert recorder.diagnostics["model"]["pooling"] == pooling
    assert any(line.startswith(f"model: {name} {kind}") for line in recorder.logs)
    if spec.method == "influence-tuning":
        assert len(recorder.series("loss/influence")) == 1 and math.isfinite(recorder.series("loss/influence")[0][1])


@pytest.mark.parametrize(("method", "scope"), [("finetune", "top"), ("influence-tuning", "top"),
                                              ("influence-tuning", "all")])
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_runs_finetune_and_influence_tuning(family, method, scope, root):
    """ALBERT (a layer shared across depth) and DeBERTa (position projections shared by the batch)
    included: the influence engine serves both exactly (tests/test_influence_families.py)."""
    check_run(small_job(str(tiny_family_dir(family, root)), method, scope), family)


@pytest.mark.parametrize("method", [m for m in METHODS if m not in ("finetune", "influence-tuning")])
@pytest.mark.parametrize("family", REPRESENTATIVE)
def test_every_method_runs_on_representative_families(family, method, root):
    check_run(small_job(str(tiny_family_dir(family, root)), method), family)


def test_trimming_drops_padding_columns_on_either_side():
    from jobs.influence.examples import Examples
    from jobs.models import trim

    ids = torch.tensor([[0, 0, 5, 6], [0, 7, 8, 9]])
    mask = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    assert trim(ids, mask)[0].tolist() == [[0, 5, 6], [7, 8, 9]]
    assert trim(ids.flip(1), mask.flip(1))[1].tolist() == [[1, 1, 0], [1, 1, 1]]
    one = Examples(ids, mask, torch.tensor([0, 1])).take(0)  # left padded: its two real tokens, not its padding
    assert one.input_ids.tolist() == [[5, 6]] and one.attention_mask.tolist() == [[1, 1]]
