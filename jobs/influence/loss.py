"""The influence loss J of section 4 and its gradient.

For probe p_i with k same-confound examples a_i1..a_ik and k other-confound examples b_i1..b_ik:
    gap_i = mean_j I(a_ij, p_i) - mean_j I(b_ij, p_i)
    J     = mean_i gap_i ** 2
J is returned as a graph; J.backward() leaves dJ/dtheta in every parameter's .grad.

For gradient scores, I depends on theta through gradients, so dJ/dtheta is second order. The
paper assembles it from four Hessian-vector products per pair (p + q - r - s, Appendix B), each
re-running the model; here each example's scope gradient is taken once with create_graph and
autograd differentiates the cosine through them in one double backward: the same gradient,
several times cheaper. The default path (jobs.influence.fast.loss) does the same for all
examples of a call in one batched pass; the per-example loop stays as its oracle
(reference=True), and influence_loss_reference_hvp keeps the paper's formula as the loop's.
Embedding tuning (kind "embedding", section 4.1) is first order: the cosine of pooled outputs.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from jobs.influence.arguments import InfluenceArguments
from jobs.influence.engine import PathSink, choose_path, report
from jobs.influence.examples import Examples
from jobs.influence.fast.loss import fast_influence_gap
from jobs.influence.scope import scope_parameters
from jobs.influence.scores import (
    eval_mode,
    example_gradient,
    example_loss,
    similarity,
    token_vocabulary,
)


def influence_gap(model: nn.Module, probes: Examples, a: Examples, b: Examples,
                  args: InfluenceArguments | None = None, on_path: PathSink | None = None) -> Tensor:
    """gap_i = mean I(A_i, p_i) - mean I(B_i, p_i) for each probe: shape [P], differentiable.

    probes: P examples; a and b: P*k examples each, rows [i*k:(i+1)*k] belonging to probe i.
    The scores (args.kind over args.scope) are taken in eval mode (no dropout); the model's mode
    is restored after.

    The default path (jobs.influence.fast.loss) runs all distinct examples in one batched
    forward and backward and forms the needed gradient dot products from per-token factors;
    args.reference (or a scope parameter without an exact fast rule, which is reported) runs the
    per-example loop below, one create_graph backward per example, kept as the fast path's
    oracle. The path taken goes to on_path (jobs.influence.engine.EnginePath)."""
    args = args or InfluenceArguments()
    num_probes = len(probes)
    k = len(a) // max(num_probes, 1)
    if num_probes == 0 or k == 0 or len(a) != num_probes * k or len(b) != num_probes * k:
        raise ValueError(f"need P probes and P*k A and B examples each; got {num_probes} probes, "
                         f"{len(a)} A and {len(b)} B examples")
    kind = args.kind
    params = [p for _, p in scope_parameters(model, args.scope, args.top_layers)]
    with eval_mode(model):
        plan, path = choose_path(model, args, params, probes)
        report(on_path, path)
        if path.path != "reference" and (plan is not None or kind == "embedding"):
            return fast_influence_gap(model, probes, a, b, kind, plan)
        if kind == "embedding":
            def represent(ex: Examples) -> Tensor:  # [len(ex), hidden]
                return model.pooled(ex.input_ids, ex.attention_mask)
        else:
            vocabulary = token_vocabulary(probes, a, b)

            def represent(ex: Examples) -> Tensor:  # [len(ex), D]: one backward per example
                return torch.stack([example_gradient(model, ex.take(i), params, create_graph=True,
                                                     vocabulary=vocabulary) for i in range(len(ex))])
        probe_rep = represent(probes)[:, None]                       # [P, 1, D]
        a_rep = represent(a).reshape(num_probes, k, -1)              # [P, k, D]
        b_rep = represent(b).reshape(num_probes, k, -1)
        return similarity(a_rep, probe_rep, kind).mean(1) - similarity(b_rep, probe_rep, kind).mean(1)


def influence_loss(model: nn.Module, probes: Examples, a: Examples, b: Examples,
                   args: InfluenceArguments | None = None, on_path: PathSink | None = None) -> Tensor:
    """J = mean over probes of gap_i ** 2, a scalar differentiable w.r.t. ALL model parameters.

    args.kind "cosine"/"dot": scores over the args.scope gradients (second order: J.backward()
    runs one double backward); "embedding": cosine of pooled outputs (first order; scope
    ignored). Computed in eval mode; call J.backward() (in any mode) for dJ/dtheta.
    args.reference takes the per-example loop instead of the batched fast path (debugging; same
    value and gradient)."""
    return influence_gap(model, probes, a, b, args, on_path).pow(2).mean()


def influence_loss_reference_hvp(model: nn.Module, probe: Examples, a: Examples, b: Examples,
                                 scope: str = "all", top_layers: int = 2) -> list[Tensor]:
    """dJ/dtheta for one probe and the cosine score, by the paper's formula (oracle; slow).

    grad I(z, p) = p + q - r - s with, for g_z, g_p the scope gradients and H_z v the product of
    d/dtheta (all parameters) of g_z with v:
        p = H_z g_p / (|g_z||g_p|)          q = H_p g_z / (|g_z||g_p|)
        r = (g_z.g_p) H_z g_z / (|g_z|^3 |g_p|)   s = (g_z.g_p) H_p g_p / (|g_z| |g_p|^3)
    dJ = 2 (mean_A I - mean_B I) (mean_A grad I - mean_B grad I).
    Returns one tensor per trainable parameter, in model.parameters() order."""
    if len(probe) != 1 or len(a) != len(b) or len(a) == 0:
        raise ValueError("the reference takes one probe and equally many (>0) A and B examples")
    all_params = [p for p in model.parameters() if p.requires_grad]
    params = [p for _, p in scope_parameters(model, scope, top_layers)]

    def scope_grad(ex: Examples) -> list[Tensor]:
        return list(torch.autograd.grad(example_loss(model, ex), params, create_graph=True,
                                        allow_unused=True, materialize_grads=True))

    def hvp(grad: list[Tensor], vector: list[Tensor]) -> list[Tensor]:
        inner = sum((g * v).sum() for g, v in zip(grad, vector, strict=True))
        return list(torch.autograd.grad(inner, all_params, retain_graph=True, allow_unused=True,
                                        materialize_grads=True))

    def dot(x: list[Tensor], y: list[Tensor]) -> Tensor:
        return sum((u * v).sum() for u, v in zip(x, y, strict=True)).detach()

    with eval_mode(model):
        g_p = scope_grad(probe)
        g_p_value = [g.detach() for g in g_p]
        norm_p = dot(g_p_value, g_p_value).sqrt()
        h_p_g_p = hvp(g_p, g_p_value)

        def score_and_gradient(ex: Examples) -> tuple[Tensor, list[Tensor]]:
            g_z = scope_grad(ex)
            g_z_value = [g.detach() for g in g_z]
            norm_z = dot(g_z_value, g_z_value).sqrt()
            inner = dot(g_z_value, g_p_value)
            p_term, q_term = hvp(g_z, g_p_value), hvp(g_p, g_z_value)
            r_term = hvp(g_z, g_z_value)
            grad = [(p + q) / (norm_z * norm_p) - inner * r / (norm_z ** 3 * norm_p)
                    - inner * s / (norm_z * norm_p ** 3)
                    for p, q, r, s in zip(p_term, q_term, r_term, h_p_g_p, strict=True)]
            return inner / (norm_z * norm_p), grad

        def group_mean(group: Examples) -> tuple[Tensor, list[Tensor]]:
            pairs = [score_and_gradient(group.take(j)) for j in range(len(group))]
            score = torch.stack([s for s, _ in pairs]).mean()
            grad = [torch.stack(gs).mean(0) for gs in zip(*(g for _, g in pairs), strict=True)]
            return score, grad

        score_a, grad_a = group_mean(a)
        score_b, grad_b = group_mean(b)
    return [2 * (score_a - score_b) * (ga - gb) for ga, gb in zip(grad_a, grad_b, strict=True)]
