"""Influence: parameter scopes, influence scores, the confound influence difference (CID) and
the influence loss J. The reference implementations sit beside the fast ones as their oracle."""
from jobs.contracts.enums import MODEL_SCOPES  # the scopes of every model; SCOPES adds "lora" (adapters)
from jobs.influence.arguments import InfluenceArguments
from jobs.influence.cid import CIDResult, ProbeCID, ab_groups, cid_from_scores, cid_pool, measure_cid
from jobs.influence.engine import EnginePath
from jobs.influence.examples import Examples
from jobs.influence.loss import influence_gap, influence_loss, influence_loss_reference_hvp
from jobs.influence.scope import SCOPES, scope_parameters
from jobs.influence.scores import KINDS, eval_mode, example_gradient, example_loss, pairwise_scores

__all__ = [
    "InfluenceArguments", "EnginePath",
    "CIDResult", "ProbeCID", "ab_groups", "cid_from_scores", "cid_pool", "measure_cid",
    "Examples",
    "influence_gap", "influence_loss", "influence_loss_reference_hvp",
    "MODEL_SCOPES", "SCOPES", "scope_parameters",
    "KINDS", "eval_mode", "example_gradient", "example_loss", "pairwise_scores",
]
