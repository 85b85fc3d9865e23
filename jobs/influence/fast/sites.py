"""Sites: the modules that own a scope's parameters, and what one batched backward leaves at them.

Every parameter of a BERT classifier sits in an nn.Linear, an nn.LayerNorm or an nn.Embedding.
For each of them an example's gradient is a short sum over its tokens t of products of two
factors that one batched forward and backward provide for all examples at once:

    Linear     dL/dW = sum_t g[t] x[t]^T     dL/db = sum_t g[t]
    LayerNorm  dL/dw = sum_t g[t] * xhat[t]  dL/db = sum_t g[t]      (xhat: the normalised input)
    Embedding  dL/dE[v] = sum_{t: id[t] = v} g[t]                    (only the rows of its tokens)

where g[t] = dL/d(module output at token t) of that example's own loss. The loss of the batch is
the SUM of the examples' losses, so g of one example is exactly its own gradient (examples do not
interact: eval mode, attention masked per example), and padded positions get g = 0.

capture() runs the forward with hooks and one autograd.grad to the site outputs (never to the
parameters, so the batch gradient is never formed). With create_graph the factors stay
differentiable w.r.t. every parameter: a product of factors then differentiates into exactly the
Hessian-vector terms of the influence gradient, and autograd finds them in one double backward.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KINDS = {nn.Linear: "linear", nn.LayerNorm: "layernorm", nn.Embedding: "embedding"}


@dataclass
class Site:
    """A module with parameters in the scope; weight/bias: whether each is in the scope."""

    name: str
    module: nn.Module
    kind: str
    weight: bool
    bias: bool

    def params(self) -> list[nn.Parameter]:
        """The site's in-scope parameters, weight first."""
        return [p for p, on in ((self.module.weight, self.weight), (getattr(self.module, "bias", None), self.bias))
                if on]


@dataclass
class Factors:
    """One site's factors for a batch of B examples (T: that site's token count, 1 for [CLS]-only
    modules such as the pooler and the head).

    x: linear [B, T, d_in] inputs; layernorm [B, T, H] normalised inputs; embedding [B, T] ids,
       with -1 where a position contributes nothing (padding, or the embedding's padding_idx).
    g: [B, T, d_out] gradient of the summed loss w.r.t. the site's output; zero on padding.
    real: [B, T] bool, the positions that are not padding (all of them when T is 1)."""

    site: Site
    x: Tensor
    g: Tensor
    real: Tensor | None = None

    def token_rows(self) -> tuple[Tensor, Tensor, Tensor]:
        """The real positions only, batch and tokens flattened: (x rows [N, ...], g rows
        [N, d_out], owner [N]: the example each row belongs to)."""
        real = self.real if self.real is not None else torch.ones(self.g.shape[:2], dtype=torch.bool,
                                                                   device=self.g.device)
        owner = torch.arange(self.g.shape[0], device=self.g.device)[:, None].expand(real.shape)[real]
        return self.x[real], self.g[real], owner


def scope_sites(model: nn.Module, params: list[nn.Parameter]) -> list[Site] | None:
    """The sites that own exactly `params`, in module order; None when some parameter lives where
    the fast path has no rule (another module type, an embedding with max_norm or frequency
    scaling, a LayerNorm without affine), so the caller can fall back to the per-example loop."""
    wanted = {id(p) for p in params}
    sites, covered = [], set()
    for name, module in model.named_modules():
        own = {k: p for k, p in module.named_parameters(recurse=False) if id(p) in wanted}
        if not own:
            continue
        kind = KINDS.get(type(module))
        if kind is None or set(own) - {"weight", "bias"}:
            return None
        if kind == "embedding" and (module.max_norm is not None or module.scale_grad_by_freq):
            return None
        sites.append(Site(name, module, kind, "weight" in own, "bias" in own))
        covered |= {id(p) for p in own.values()}
    return sites if covered == wanted else None


def capture(model: nn.Module, sites: list[Site], input_ids: Tensor, attention_mask: Tensor, labels: Tensor,
            create_graph: bool = False) -> list[Factors]:
    """One batched forward and one backward to the site outputs: each site's Factors.

    input_ids, attention_mask [B, T] (padded), labels [B]. The caller sets eval mode. With
    create_graph the factors carry the graph (for the influence loss); otherwise they are detached.
    """
    seen: dict[int, list] = {id(s.module): [] for s in sites}
    batch = input_ids.shape[0]

    def hook(module, inputs, output):
        if output.shape[0] == 1 and batch > 1:
            # BERT looks positions up once ([1, T, H]) and broadcasts them over the batch: the
            # gradient of that single output would be the batch's sum. Hand the model an explicit
            # per-example copy instead, so that its gradient is each example's own.
            output = output.expand(batch, *output.shape[1:])
        seen[id(module)].append((inputs[0], output))
        return output

    handles = [s.module.register_forward_hook(hook) for s in sites]
    try:
        with torch.enable_grad():
            logits, _ = model(input_ids, attention_mask)
            loss = F.cross_entropy(logits, labels, reduction="sum")
    finally:
        for h in handles:
            h.remove()
    for s in sites:
        if len(seen[id(s.module)]) != 1:
            raise RuntimeError(f"module {s.name} ran {len(seen[id(s.module)])} times in one forward; expected once")
    outputs = [seen[id(s.module)][0][1] for s in sites]
    grads = torch.autograd.grad(loss, outputs, create_graph=create_graph)
    tokens = attention_mask.to(grads[0].dtype if grads else torch.float32)            # [B, T]
    return [_factors(s, seen[id(s.module)][0][0], g, tokens, attention_mask, create_graph)
            for s, g in zip(sites, grads, strict=True)]


def _factors(site: Site, inputs: Tensor, g: Tensor, tokens: Tensor, attention_mask: Tensor,
             create_graph: bool) -> Factors:
    real = None
    if g.dim() == 2:                         # [B, d] modules ([CLS] only): one "token" each
        g, inputs = g[:, None], inputs[:, None]
    elif g.shape[1] == tokens.shape[1]:
        g = g * tokens[:, :, None]           # exact zeros on padding, for the double backward too
        real = attention_mask.bool()
    if not create_graph:
        inputs, g = inputs.detach(), g.detach()
    if site.kind == "linear":
        return Factors(site, inputs, g, real)
    if site.kind == "layernorm":
        m = site.module
        return Factors(site, F.layer_norm(inputs, m.normalized_shape, None, None, m.eps), g, real)
    ids = inputs.expand(g.shape[:2]).clone()                                       # [B, T]
    if ids.shape[1] == attention_mask.shape[1]:
        ids[attention_mask == 0] = -1
    if site.module.padding_idx is not None:
        ids[ids == site.module.padding_idx] = -1   # nn.Embedding gives its padding row no gradient
    return Factors(site, ids, g, real)


def capture_joined(model: nn.Module, sites: list[Site], batches: list[tuple[Tensor, Tensor, Tensor]],
                   create_graph: bool = False) -> list[Factors]:
    """capture() on each (input_ids, attention_mask, labels) batch, joined into one Factors per
    site whose rows are the batches' rows in order, padded to the longest (padding: x = 0,
    g = 0, ids = -1, so it adds nothing to any dot product). Batches of similar length waste
    less of the forward and backward on padding than one batch padded to the longest row."""
    parts = [capture(model, sites, *batch, create_graph=create_graph) for batch in batches]
    if len(parts) == 1:
        return parts[0]
    joined = []
    for i, site in enumerate(sites):
        pieces = [p[i] for p in parts]
        tokens = max(f.g.shape[1] for f in pieces)
        fill = -1 if site.kind == "embedding" else 0

        def pad(t: Tensor, value, length=tokens) -> Tensor:
            extra = [0, 0] * (t.dim() - 2) + [0, length - t.shape[1]]
            return F.pad(t, extra, value=value)

        real = None if pieces[0].real is None else torch.cat([pad(f.real.to(torch.uint8), 0) for f in pieces]).bool()
        joined.append(Factors(site, torch.cat([pad(f.x, fill) for f in pieces]),
                              torch.cat([pad(f.g, 0) for f in pieces]), real))
    return joined
