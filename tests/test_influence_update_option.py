"""influence.update: an influence round moves the scope's parameters alone ("scope", the paper's
code and the default) or every parameter ("all"); label steps train everything either way."""
import pytest
import torch

from jobs.methods.influence_tuning import InfluenceTuning, updated_parameters
from jobs.methods.loop import run_method
from jobs.recorder import MemoryRecorder
from jobs.spec import InfluenceSpec, JobSpec
from tests.test_methods import small_spec, tiny, toy_textlen


class WatchedRounds(InfluenceTuning):
    """Influence tuning that keeps the parameters before and after each of its rounds."""

    def setup(self, run):
        self.rounds: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []
        return super().setup(run)

    def influence_round(self, run, step):
        before = {n: p.detach().clone() for n, p in run.model.named_parameters()}
        done = super().influence_round(run, step)
        self.rounds.append((before, {n: p.detach().clone() for n, p in run.model.named_parameters()}))
        return done


def moved_in_rounds(update: str | None, scope: str = "head") -> set[str]:
    """The parameter names that any influence round of a short run changed."""
    influence = {"scope": scope, "lr": 1e-2, "probes_per_round": 4, "tuples_per_update": 2}
    if update is not None:
        influence["update"] = update
    spec = small_spec("influence-tuning", influence=influence, diagnostics={"cid_every": 0})
    method = WatchedRounds()
    result = run_method(method, spec, toy_textlen(), tiny(), MemoryRecorder())
    assert not result.stopped and method.rounds, "the run had no influence round"
    return {name for before, after in method.rounds for name in before if not torch.equal(before[name], after[name])}


def test_the_default_is_the_papers_scope():
    assert InfluenceSpec().update == "scope"
    assert JobSpec(method="influence-tuning").influence.update == "scope"
    assert "scope" in InfluenceSpec.model_fields["update"].description


def test_update_scope_moves_only_the_heads_parameters_in_a_round():
    moved = moved_in_rounds(None)  # the default
    assert moved, "the round moved nothing"
    assert all(name.startswith("head.") for name in moved), sorted(moved)


def test_update_all_moves_the_lower_layers_too():
    moved = moved_in_rounds("all")
    assert any(name.startswith("head.") for name in moved)
    lower = [name for name in moved if not name.startswith("head.")]
    assert lower, "update all left every encoder parameter where it was"
    assert any("embeddings" in name or ".0." in name for name in lower), sorted(lower)


def test_update_scope_with_top_moves_the_top_layer_and_head_not_the_embeddings():
    loaded = tiny()
    top = {n for n, _ in updated_parameters(loaded.model, "top", 1, "scope")}
    moved = moved_in_rounds("scope", scope="top")
    assert moved and moved <= top, sorted(moved - top)
    assert not any("embeddings" in name for name in moved)


def test_the_update_sets():
    model = tiny().model
    every = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n, _ in updated_parameters(model, "head", 2, "all")} == every
    assert {n for n, _ in updated_parameters(model, "all", 2, "scope")} == every
    assert all(n.startswith("head.") for n, _ in updated_parameters(model, "head", 2, "scope"))
    with pytest.raises(ValueError, match="valid: scope, all"):
        updated_parameters(model, "head", 2, "some")


def test_embedding_tuning_over_the_head_alone_is_refused():
    with pytest.raises(ValueError, match="would move nothing"):
        JobSpec(method="embedding-tuning", influence={"scope": "head"})
    assert JobSpec(method="embedding-tuning", influence={"scope": "head", "update": "all"}).influence.update == "all"
    assert JobSpec(method="influence-tuning", influence={"scope": "head"}).influence.update == "scope"


def test_a_spec_stored_before_the_option_goes_on_updating_every_parameter():
    """A job stored (and maybe checkpointed) by an older version resumes as it ran: update all."""
    old = JobSpec(method="influence-tuning", influence={"scope": "top"}).model_dump()
    del old["influence"]["update"]
    assert JobSpec.stored(old).influence.update == "all"
    new = JobSpec(method="influence-tuning", influence={"scope": "top"}).model_dump()
    assert JobSpec.stored(new).influence.update == "scope"
