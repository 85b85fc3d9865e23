"""Adversarial training (paper section 5.1, after Pryzant et al. 2018): a linear adversary reads
the confound from the classifier's dropped-out pooled output through a gradient-reversal layer.

    loss = CE(head(dropout(pooled)), label) + CE(adversary(reverse_lambda(dropout(pooled))), confound)

The adversary learns to predict the confound; the reversal hands the encoder -lambda times that
gradient, so the encoder unlearns it (implicitly L_label - lambda L_confound). Only examples in
the access set contribute to the adversary's loss.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.contracts.enums import MethodName
from jobs.influence import Examples
from jobs.methods.loop import Method, Run


class GradientReversal(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by -weight."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: float) -> Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.weight * grad, None


def reverse_gradient(x: Tensor, weight: float) -> Tensor:
    """x unchanged; the gradient flowing back through it is scaled by -weight."""
    return GradientReversal.apply(x, weight)


class Adversarial(Method):
    """Label loss plus a confound adversary behind a gradient-reversal layer."""

    name = MethodName.ADVERSARIAL

    def setup(self, run: Run):
        parameter = next(run.model.parameters())
        self.adversary = nn.Linear(run.model.hidden_size, run.data.num_confounds).to(parameter.device, parameter.dtype)
        self.visible = np.zeros(len(run.data.train), dtype=bool)  # confound readable by the method
        self.visible[run.data.access_index()] = True
        self.confounds = torch.as_tensor(run.data.train.confounds, dtype=torch.long, device=run.device)
        return [(f"adversary.{name}", p) for name, p in self.adversary.named_parameters()]

    def state_dict(self) -> dict:
        return {"adversary": self.adversary.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.adversary.load_state_dict(state["adversary"])

    def learning_rates(self, run: Run) -> dict[str, float]:
        lr = run.spec.adversarial.lr
        return {"adversary.": lr} if lr is not None else {}

    def label_loss(self, run: Run, batch: Examples, index: np.ndarray, step: int) -> Tensor:
        model = run.model
        features = model.dropout(model.pooled(batch.input_ids, batch.attention_mask))
        loss = F.cross_entropy(model.head(features), batch.labels)
        visible = torch.as_tensor(self.visible[index], device=run.device)
        if not visible.any():
            return loss
        confound_logits = self.adversary(reverse_gradient(features[visible], run.spec.adversarial.weight))
        confounds = self.confounds[torch.as_tensor(index, device=run.device)][visible]
        adversary_loss = F.cross_entropy(confound_logits, confounds)
        run.recorder.scalar("loss/adversary", step, float(adversary_loss.detach()))
        run.recorder.scalar("acc/adversary", step, float((confound_logits.argmax(-1) == confounds).float().mean()))
        return loss + adversary_loss
