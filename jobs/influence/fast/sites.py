"""Sites: the modules that own a scope's parameters, and what one batched backward leaves at them.

Nearly every parameter of a transformer classifier sits in a Linear, a norm or an Embedding. For
each of them an example's gradient is a short sum over its tokens t of products of two factors
that one batched forward and backward provide for all examples at once:

    linear     dL/dW = sum_t g[t] x[t]^T     dL/db = sum_t g[t]       (nn.Linear; GPT-2's Conv1D,
                                                                        whose W is stored transposed)
    norm       dL/dw = sum_t g[t] * xhat[t]  dL/db = sum_t g[t]       xhat: the normalised input,
               LayerNorm (x - mean) / sd, with or without bias; RMSNorm x / rms(x) of every family
               (Llama, Mistral, Qwen, Gemma's x / rms * (1 + w): the same factor)
    embedding  dL/dE[v] = scale * sum_{t: id[t] = v} g[t]            (only the rows of its tokens;
                                                                        Gemma scales its lookups)

where g[t] = dL/d(module output at token t) of that example's own loss. The loss of the batch is
the SUM of the examples' losses, so g of one example is exactly its own gradient (examples do not
interact: eval mode, attention masked per example), and padded positions get g = 0.

A module that runs several times in one forward (ALBERT's shared layer) and modules that share a
parameter (tied weights of one rule) make one site whose tokens are all their calls' tokens:
the gradient is the sum over calls, and the factored dot products see every cross term.

plan_sites() finds the sites and checks each rule on the model itself: one forward at batch 1
and one at batch 2 record every call, verify that each module computes what its rule assumes
(a class name is a hint, never trusted), and tell the calls that follow the batch from those
computed once for all examples. BERT's position lookup ([1, T, H], broadcast over the batch) is
handed an explicit per-example copy. Anything else computed once for the batch (DeBERTa's
relative position embeddings, projected by the layers' own query and key Linears) and any
parameter read outside its module's forward (DeBERTa reads rel_embeddings.weight directly) has
no per-example gradient in a batched backward: such a model is captured one example at a time
(still no per-example gradient of any big weight is formed), and the plan says so.

capture() runs the forward with hooks and one autograd.grad to the site outputs (never to the
parameters, so the batch gradient is never formed). With create_graph the factors stay
differentiable w.r.t. every parameter: a product of factors then differentiates into exactly the
Hessian-vector terms of the influence gradient, and autograd finds them in one double backward.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Site kinds: "linear", "norm", "embedding", and "dense" (a parameter read outside any module's
# forward: its gradient is taken directly, one example at a time).
NORM_FORMS = ("layer", "rms")


class NoFastRule(Exception):
    """A scope parameter the fast engine cannot serve exactly; the message says which and why."""


@dataclass
class Site:
    """Modules sharing in-scope parameters under one rule (usually one module); weight/bias:
    whether each is in the scope. norm: "layer" or "rms"; eps; compute: the dtype the norm
    normalises in (Llama's and Gemma's upcast to float32, and downcast float64 to it); scale: an
    embedding's output scale; transposed: a Conv1D, whose weight is [d_in, d_out]."""

    name: str
    modules: list[nn.Module]
    kind: str
    weight: bool
    bias: bool
    norm: str = ""
    eps: float = 0.0
    compute: torch.dtype | None = None
    scale: float = 1.0
    transposed: bool = False

    @property
    def module(self) -> nn.Module:
        return self.modules[0]

    def params(self) -> list[nn.Parameter]:
        """The site's in-scope parameters, weight first."""
        return [p for p, on in ((self.module.weight, self.weight), (getattr(self.module, "bias", None), self.bias))
                if on]


@dataclass
class Plan:
    """How the scope is captured. calls[i][c]: whether call c of site i (in module order, then
    call order) follows the batch (False: computed once for all examples). per_example: capture
    runs one example at a time; why: the reason (empty when batched)."""

    sites: list[Site]
    calls: list[list[bool]]
    per_example: bool
    why: str = ""


@dataclass
class Factors:
    """One site's factors for a batch of B examples, every call's tokens side by side (n: their
    count; 1 for [CLS]-only modules such as the pooler and the head).

    x: linear [B, n, d_in] inputs; norm [B, n, H] normalised inputs; embedding [B, n] ids, with -1
       where a position contributes nothing (padding, or the embedding's padding_idx); dense: g.
    g: [B, n, d_out] gradient of the summed loss w.r.t. the site's output; zero on padding.
    real: [B, n] bool, the positions that are not padding (None: all of them).
    aligned: the site ran once, at token level: its n positions are the batch's T tokens."""

    site: Site
    x: Tensor
    g: Tensor
    real: Tensor | None = None
    aligned: bool = False

    def token_rows(self) -> tuple[Tensor, Tensor, Tensor]:
        """The real positions only, batch and tokens flattened: (x rows [N, ...], g rows
        [N, d_out], owner [N]: the example each row belongs to)."""
        real = self.real if self.real is not None else torch.ones(self.g.shape[:2], dtype=torch.bool,
                                                                   device=self.g.device)
        owner = torch.arange(self.g.shape[0], device=self.g.device)[:, None].expand(real.shape)[real]
        return self.x[real], self.g[real], owner


# --- rules ---------------------------------------------------------------------------------------

def _rule(name: str, module: nn.Module, own: dict[str, nn.Parameter]) -> Site:
    """The site of one module by its structure; NoFastRule where it has none. The rule is
    checked against the module's actual outputs later (_verify)."""
    kind_name = type(module).__name__
    extra = set(own) - {"weight", "bias"}
    if extra:
        raise NoFastRule(f"module {name} of type {kind_name} has parameters {sorted(extra)} without a fast rule")
    weight, bias = "weight" in own, "bias" in own
    if isinstance(module, nn.Linear):
        return Site(name, [module], "linear", weight, bias)
    if kind_name == "Conv1D" and getattr(module, "weight", None) is not None and module.weight.dim() == 2:
        return Site(name, [module], "linear", weight, bias, transposed=True)
    if isinstance(module, nn.Embedding):
        if module.max_norm is not None or module.scale_grad_by_freq:
            raise NoFastRule(f"module {name} (Embedding) renormalises rows or scales gradients by frequency")
        scale = getattr(module, "embed_scale", None)
        scale = float(scale) if scale is not None else 1.0
        return Site(name, [module], "embedding", weight, bias, scale=scale)
    w = getattr(module, "weight", None)
    if isinstance(module, nn.LayerNorm | nn.RMSNorm) or kind_name.endswith("Norm"):
        if not isinstance(w, Tensor) or w.dim() != 1:
            raise NoFastRule(f"module {name} of type {kind_name} normalises over more than one dimension")
        eps = next((getattr(module, a) for a in ("eps", "variance_epsilon", "epsilon")
                    if isinstance(getattr(module, a, None), float | int)), None)
        if eps is None:
            eps = torch.finfo(w.dtype).eps if isinstance(module, nn.RMSNorm) else None
        if eps is None:
            raise NoFastRule(f"module {name} of type {kind_name} has no eps attribute")
        return Site(name, [module], "norm", weight, bias, eps=float(eps))
    raise NoFastRule(f"module {name} of type {kind_name} has no fast rule")


def _normalise(x: Tensor, form: str, eps: float, compute: torch.dtype) -> Tensor:
    """xhat of a norm's input, computed in `compute` as the module does, returned in x's dtype."""
    h = x.to(compute)
    if form == "layer":
        h = h - h.mean(-1, keepdim=True)
    return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def _norm_output(site: Site, m: nn.Module, x: Tensor, form: str, one_plus: bool, compute: torch.dtype) -> Tensor:
    xhat = _normalise(x, form, site.eps, compute)
    if one_plus:  # Gemma's RMSNorm scales in its compute dtype, then casts back
        out = (xhat.to(compute) * (1 + m.weight.to(compute))).to(x.dtype)
    else:         # LayerNorm, Llama's RMSNorm and its copies: the normalised input back in x's dtype, then scaled
        out = xhat * m.weight.to(x.dtype)
    if getattr(m, "bias", None) is not None:
        out = out + m.bias
    return out


def _rule_output(site: Site, m: nn.Module, x: Tensor) -> list[tuple[tuple, Tensor]]:
    """What the site's module m should output for input x, under each form its rule allows."""
    if site.kind == "linear":
        if site.transposed:
            out = x @ m.weight
            return [((), out + m.bias if m.bias is not None else out)]
        return [((), F.linear(x, m.weight, m.bias))]
    if site.kind == "embedding":
        return [((), F.embedding(x, m.weight, m.padding_idx) * site.scale)]
    computes = dict.fromkeys([x.dtype, torch.float32])
    return [((form, compute), _norm_output(site, m, x, form, one_plus, compute))
            for form in NORM_FORMS for one_plus in (False, True) for compute in computes]


def _verify(site: Site, module: nn.Module, inputs: tuple, output) -> None:
    """Check (and for a norm, find: layer or RMS, w or 1 + w, the dtype it normalises in) the
    rule on one recorded call, the closest form within rounding; NoFastRule if none fits."""
    cls = type(site.module).__name__
    if not inputs or not isinstance(inputs[0], Tensor) or not isinstance(output, Tensor):
        raise NoFastRule(f"module {site.name} of type {cls} takes or returns something other than one tensor")
    x = inputs[0]
    tol = float(torch.finfo(output.dtype).eps) ** 0.5 * 10 if output.is_floating_point() else 0.0
    scale = max(float(output.detach().abs().max()) if output.numel() else 0.0, 1.0)
    fits = [(float((expected.to(output.dtype) - output).detach().abs().max()) if output.numel() else 0.0, form)
            for form, expected in _rule_output(site, module, x) if expected.shape == output.shape]
    error, form = min(fits, key=lambda f: f[0], default=(float("inf"), ()))
    if error > tol * scale:
        raise NoFastRule(f"module {site.name} of type {cls} does not compute what its {site.kind} rule assumes")
    if site.kind == "norm":
        if site.norm and (site.norm, site.compute) != form:
            raise NoFastRule(f"module {site.name} of type {cls} normalises differently between calls")
        site.norm, site.compute = form


# --- the plan ------------------------------------------------------------------------------------

def _static_sites(model: nn.Module, params: list[nn.Parameter]) -> list[Site]:
    """Sites by module structure. Modules that share a weight (tied weights) make one site for
    it, whose gradient is the sum over all their calls; their own biases, if not shared too, are
    sites of their own. A weight tied across rules (an Embedding's and a Linear's) has none."""
    wanted = {id(p) for p in params}
    modules: list[tuple[str, nn.Module, Site]] = []
    owners: dict[int, list[int]] = {}            # parameter id -> indices into modules
    for name, module in model.named_modules():
        own = {k: p for k, p in module.named_parameters(recurse=False) if id(p) in wanted}
        if not own:
            continue
        modules.append((name, module, _rule(name, module, own)))
        for p in own.values():
            owners.setdefault(id(p), []).append(len(modules) - 1)
    if set(owners) != wanted:
        raise NoFastRule(f"{len(wanted - set(owners))} scope parameters belong to no module")
    sites, done = [], set()
    for index, (name, module, site) in enumerate(modules):
        if index in done:
            continue
        group = owners[id(module.weight)] if site.weight else [index]
        rules = {(modules[i][2].kind, modules[i][2].transposed) for i in group}
        if len(rules) > 1 or any(modules[i][1].weight is not module.weight for i in group):
            raise NoFastRule(f"the weight of {name} ({type(module).__name__}) is tied to "
                             f"{', '.join(modules[i][0] for i in group if i != index)} under another rule")
        biases = {id(modules[i][1].bias) if modules[i][2].bias else None for i in group}
        shared_bias = len(biases) == 1 and (len(group) == 1 or None not in biases)
        if len(group) == 1 or shared_bias:
            site.modules = [modules[i][1] for i in group]
            site.name = "+".join(modules[i][0] for i in group)
            sites.append(site)
        else:                   # the tied weight, then each module's own bias
            sites.append(Site("+".join(modules[i][0] for i in group), [modules[i][1] for i in group], site.kind,
                              True, False, eps=site.eps, scale=site.scale, transposed=site.transposed))
            sites.extend(Site(modules[i][0], [modules[i][1]], site.kind, False, True, eps=site.eps,
                              scale=site.scale, transposed=site.transposed) for i in group if modules[i][2].bias)
        done.update(group)
    return sites


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _unique_modules(sites: list[Site]) -> list[nn.Module]:
    """Each module of the sites once (a module with a tied weight and its own bias is in two)."""
    return list({id(m): m for s in sites if s.kind != "dense" for m in s.modules}.values())


def _record_calls(model: nn.Module, sites: list[Site], input_ids: Tensor, attention_mask: Tensor):
    seen: dict[int, list] = {id(m): [] for s in sites for m in s.modules}

    def hook(module, inputs, output):
        seen[id(module)].append((module, inputs, output))

    handles = [m.register_forward_hook(hook) for m in _unique_modules(sites)]
    try:
        with torch.no_grad():
            model(input_ids, attention_mask)
    finally:
        for h in handles:
            h.remove()
    return [[call for m in s.modules for call in seen[id(m)]] for s in sites]


def plan_sites(model: nn.Module, params: list[nn.Parameter], input_ids: Tensor, attention_mask: Tensor,
               labels: Tensor) -> Plan:
    """The sites that own exactly `params` and how to capture them, checked on the rows given
    (any one or two examples): the modules' arithmetic, how their outputs follow the batch, and
    finally that the factors of one example add up to its gradient, parameter by parameter (so a
    weight also read outside its module, a tied output projection, cannot go unnoticed). Raises
    NoFastRule (its message: which module and why) where some parameter has no exact rule, so the
    caller can take the per-example loop and say why. Cached per model, parameter set and dtype.
    The caller sets eval mode."""
    key = (tuple(id(p) for p in params), next(model.parameters()).dtype)
    cached = _PLANS.get(model, {}).get(key)
    if cached is not None:
        return cached
    sites = _static_sites(model, params)
    ids, mask = input_ids[:1], attention_mask[:1]
    two_ids = input_ids[:2] if len(input_ids) > 1 else ids.expand(2, -1)
    two_mask = attention_mask[:2] if len(attention_mask) > 1 else mask.expand(2, -1)
    one, two = _record_calls(model, sites, ids, mask), _record_calls(model, sites, two_ids, two_mask)
    calls, reasons = [], []
    kept = []
    for site, first, second in zip(sites, one, two, strict=True):
        if len(first) != len(second):
            raise NoFastRule(f"module {site.name} runs {len(first)} times at batch 1, {len(second)} at batch 2")
        if not first:
            if len(site.modules) > 1 or site.bias:
                raise NoFastRule(f"module {site.name} never runs its forward, yet its parameters are in the scope")
            site.kind = "dense"      # read directly (DeBERTa's rel_embeddings.weight), or unused
            reasons.append(f"the weight of {site.name} is read outside its module's forward")
            calls.append([])
            kept.append(site)
            continue
        follows = []
        for (module, inputs, out1), (_, _, out2) in zip(first, second, strict=True):
            _verify(site, module, inputs, out1)
            if out1.shape[:1] == (1,) and out2.shape[:1] == (2,) and out1.shape[1:] == out2.shape[1:]:
                follows.append(True)
            elif out1.shape == out2.shape and site.kind == "embedding" and out1.dim() >= 2 and out1.shape[0] == 1:
                follows.append(True)     # a lookup broadcast over the batch: capture expands it
            elif out1.shape == out2.shape:
                follows.append(False)
                reasons.append(f"module {site.name} ({type(site.module).__name__}) computes {tuple(out1.shape)} "
                               "once for the whole batch")
            else:
                raise NoFastRule(f"module {site.name}'s output {tuple(out2.shape)} does not follow the batch")
        calls.append(follows)
        kept.append(site)
    plan = Plan(kept, calls, per_example=bool(reasons), why="; ".join(dict.fromkeys(reasons)))
    _check_gradients(model, plan, params, ids, mask, labels[:1])
    _PLANS.setdefault(model, {})[key] = plan
    return plan


def site_gradients(f: Factors) -> list[Tensor]:
    """The batch's summed gradient of the site's in-scope parameters from its factors, in the
    parameters' own shapes (weight first): what _check_gradients compares with autograd's."""
    site, m = f.site, f.site.module
    out = []
    if site.weight:
        if site.kind == "dense":
            out.append(f.g.sum(0).reshape(m.weight.shape))
        elif site.kind == "embedding":
            rows = f.x.reshape(-1)
            keep = rows >= 0
            g = f.g.reshape(len(rows), -1)[keep]
            out.append(g.new_zeros(m.weight.shape).index_add(0, rows[keep], g))
        elif site.kind == "linear":
            w = torch.einsum("bto,bti->oi", f.g, f.x)
            out.append(w.T if site.transposed else w)
        else:
            out.append((f.g * f.x).sum((0, 1)))
    if site.bias:
        out.append(f.g.sum((0, 1)))
    return out


def _check_gradients(model: nn.Module, plan: Plan, params: list[nn.Parameter], input_ids: Tensor,
                     attention_mask: Tensor, labels: Tensor) -> None:
    """NoFastRule unless the factors of one example reproduce autograd's gradient of every scope
    parameter to rounding."""
    factors = _capture(model, plan, input_ids, attention_mask, labels, create_graph=False)
    with torch.enable_grad():
        logits, _ = model(input_ids, attention_mask)
        loss = F.cross_entropy(logits, labels, reduction="sum")
    expected = dict(zip(map(id, params), torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True),
                        strict=True))
    for f in factors:
        wants = [expected[id(p)] for p in f.site.params()]
        # relative to the site's largest entry (a key bias's gradient is zero up to rounding); a
        # norm that computes in float32 (Llama's, Gemma's) sums its weight's gradient there
        eps = max(torch.finfo(wants[0].dtype).eps, torch.finfo(f.site.compute or wants[0].dtype).eps)
        tol = float(eps) ** 0.5 * 10 * max(max(float(w.abs().max()) for w in wants), 1e-30)
        for want, got in zip(wants, site_gradients(f), strict=True):
            if got.shape != want.shape or float((got - want).abs().max()) > tol:
                raise NoFastRule(f"the factors of {f.site.name} ({type(f.site.module).__name__}) do not add up to "
                                 "its gradient (is its weight also used outside its forward?)")


def scope_sites(model: nn.Module, params: list[nn.Parameter]) -> list[Site] | None:
    """The sites that own exactly `params` by module structure alone (no forward), or None when
    some parameter has no rule. plan_sites() is what the engine uses."""
    try:
        return _static_sites(model, params)
    except NoFastRule:
        return None


# --- capture -------------------------------------------------------------------------------------

def capture(model: nn.Module, plan: Plan, input_ids: Tensor, attention_mask: Tensor, labels: Tensor,
            create_graph: bool = False) -> list[Factors]:
    """One batched forward and one backward to the site outputs: each site's Factors (per
    example where plan.per_example: one forward and backward per row, the rows then stacked).

    input_ids, attention_mask [B, T] (padded), labels [B]. The caller sets eval mode. With
    create_graph the factors carry the graph (for the influence loss); otherwise they are detached.
    """
    if not plan.per_example or len(input_ids) == 1:
        return _capture(model, plan, input_ids, attention_mask, labels, create_graph)
    rows = [_capture(model, plan, input_ids[i:i + 1], attention_mask[i:i + 1], labels[i:i + 1], create_graph)
            for i in range(len(input_ids))]
    return [Factors(f.site, torch.cat([r[i].x for r in rows]), torch.cat([r[i].g for r in rows]),
                    None if all(r[i].real is None for r in rows) else torch.cat([_real(r[i]) for r in rows]),
                    f.aligned)
            for i, f in enumerate(rows[0])]


def _real(f: Factors) -> Tensor:
    return f.real if f.real is not None else torch.ones(f.g.shape[:2], dtype=torch.bool, device=f.g.device)


def _capture(model: nn.Module, plan: Plan, input_ids: Tensor, attention_mask: Tensor, labels: Tensor,
             create_graph: bool) -> list[Factors]:
    seen: dict[int, list] = {id(m): [] for s in plan.sites for m in s.modules}
    batch = input_ids.shape[0]

    def hook(module, inputs, output):
        if output.shape[0] == 1 and batch > 1:
            # BERT looks positions up once ([1, T, H]) and broadcasts them over the batch: the
            # gradient of that single output would be the batch's sum. Hand the model an explicit
            # per-example copy instead, so that its gradient is each example's own.
            output = output.expand(batch, *output.shape[1:])
        seen[id(module)].append((inputs[0], output))
        return output

    handles = [m.register_forward_hook(hook) for m in _unique_modules(plan.sites)]
    try:
        with torch.enable_grad():
            logits, _ = model(input_ids, attention_mask)
            loss = F.cross_entropy(logits, labels, reduction="sum")
    finally:
        for h in handles:
            h.remove()
    site_calls = []
    for site, follows in zip(plan.sites, plan.calls, strict=True):
        got = [call for m in site.modules for call in seen[id(m)]]
        if len(got) != len(follows):
            raise RuntimeError(f"module {site.name} ran {len(got)} times in one forward; its plan expected "
                               f"{len(follows)}")
        site_calls.append(got)
    targets = [out for got in site_calls for _, out in got]
    targets += [s.module.weight for s in plan.sites if s.kind == "dense"]
    grads = list(torch.autograd.grad(loss, targets, create_graph=create_graph, allow_unused=True,
                                     materialize_grads=True))
    if not create_graph:
        grads = [g.detach() for g in grads]
    tokens = attention_mask.to(loss.dtype)                                         # [B, T]
    calls = iter(grads)
    dense = iter(grads[sum(len(got) for got in site_calls):])
    factors = []
    for site, follows, got in zip(plan.sites, plan.calls, site_calls, strict=True):
        if site.kind == "dense":   # batch 1 (plan.per_example): the batch's gradient is the example's
            g = next(dense).reshape(1, 1, -1)
            factors.append(Factors(site, g, g))
            continue
        parts = [_call_factors(site, x, next(calls), per_batch, tokens, attention_mask, create_graph)
                 for (x, _), per_batch in zip(got, follows, strict=True)]
        factors.append(_join_calls(site, parts, len(parts) == 1 and parts[0][3]))
    return factors


def _call_factors(site: Site, inputs: Tensor, g: Tensor, per_batch: bool, tokens: Tensor, attention_mask: Tensor,
                  create_graph: bool) -> tuple[Tensor, Tensor, Tensor, bool]:
    """One call's (x, g, real, aligned) with the example dim first and the call's positions
    flattened into n: x [B, n, d_in] (ids [B, n]), g [B, n, d_out], real [B, n]."""
    batch, length = attention_mask.shape
    if not per_batch:       # computed once (batch 1 here, plan.per_example): its rows are the example's own
        g = g.reshape(1, -1, g.shape[-1])
        inputs = inputs.reshape(1, -1) if site.kind == "embedding" else inputs.reshape(1, -1, inputs.shape[-1])
    if not create_graph:
        inputs, g = inputs.detach(), g.detach()
    aligned = g.dim() == 3 and g.shape[1] == length and per_batch
    if g.dim() == 2:                                   # [B, d] modules ([CLS] only): one "token" each
        g, inputs = g[:, None], inputs[:, None]
        real = torch.ones(g.shape[:2], dtype=torch.bool, device=g.device)
    elif per_batch and g.dim() >= 3 and g.shape[1] == length:
        shape = (batch, length) + (1,) * (g.dim() - 2)
        g = g * tokens.reshape(shape)                  # exact zeros on padding, for the double backward too
        real = attention_mask.bool().reshape(shape[:-1]).expand(g.shape[:-1]).reshape(batch, -1)
    else:
        real = torch.ones(g.shape[0], g[..., 0].numel() // g.shape[0], dtype=torch.bool, device=g.device)
    if site.kind == "embedding":
        ids = inputs.expand(g.shape[:-1]).reshape(g.shape[0], -1).clone()
        ids[~real] = -1
        if site.module.padding_idx is not None:
            ids[ids == site.module.padding_idx] = -1   # nn.Embedding gives its padding row no gradient
        return ids, g.reshape(g.shape[0], -1, g.shape[-1]) * site.scale, real, aligned
    g = g.reshape(g.shape[0], -1, g.shape[-1])
    if site.kind == "norm":
        inputs = _normalise(inputs, site.norm, site.eps, site.compute).to(g.dtype)
    return inputs.reshape(g.shape[0], -1, inputs.shape[-1]), g, real, aligned


def _join_calls(site: Site, parts: list[tuple[Tensor, Tensor, Tensor, bool]], aligned: bool) -> Factors:
    """The calls' positions side by side: the gradient of a module that ran several times is the
    sum over its calls, so their tokens together are one longer example."""
    if len(parts) == 1:
        x, g, real, _ = parts[0]
        return Factors(site, x, g, None if bool(real.all()) and not aligned else real, aligned)
    x = torch.cat([p[0] for p in parts], 1)
    g = torch.cat([p[1] for p in parts], 1)
    real = torch.cat([p[2] for p in parts], 1)
    return Factors(site, x, g, real, False)


def capture_joined(model: nn.Module, plan: Plan, batches: list[tuple[Tensor, Tensor, Tensor]],
                   create_graph: bool = False) -> list[Factors]:
    """capture() on each (input_ids, attention_mask, labels) batch, joined into one Factors per
    site whose rows are the batches' rows in order, padded to the longest (padding: x = 0,
    g = 0, ids = -1, so it adds nothing to any dot product). Batches of similar length waste
    less of the forward and backward on padding than one batch padded to the longest row."""
    parts = [capture(model, plan, *batch, create_graph=create_graph) for batch in batches]
    if len(parts) == 1:
        return parts[0]
    joined = []
    for i, site in enumerate(plan.sites):
        pieces = [p[i] for p in parts]
        tokens = max(f.g.shape[1] for f in pieces)
        fill = -1 if site.kind == "embedding" else 0

        def pad(t: Tensor, value, length=tokens) -> Tensor:
            extra = [0, 0] * (t.dim() - 2) + [0, length - t.shape[1]]
            return F.pad(t, extra, value=value)

        real = torch.cat([pad(_real(f).to(torch.uint8), 0) for f in pieces]).bool()
        joined.append(Factors(site, torch.cat([pad(f.x, fill) for f in pieces]),
                              torch.cat([pad(f.g, 0) for f in pieces]), real))
    return joined

