"""The fast influence engine: per-example gradient factors from one batched backward (sites),
dot products from those factors (kernels), and on top of them the probe-set scores of CID
(scores) and the influence gaps of influence and embedding tuning (loss).

These are the default paths of jobs.influence.{scores,loss,cid}; the plain per-example loops
there stay as their oracle (reference=True)."""
from jobs.influence.fast.loss import fast_influence_gap
from jobs.influence.fast.scores import fast_gradient_scores

__all__ = ["fast_gradient_scores", "fast_influence_gap"]
