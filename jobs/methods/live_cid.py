"""Live CID: the confound influence difference measured during training, on a fixed probe set.

The paper measured CID afterwards from saved checkpoints; here it is measured while the model
trains, always on the same probes and the same candidate pool, so that the points of one run
(and of runs with the same seed) compare like with like. Each point goes to the recorder with
its per-probe values, the median Welch p-value, and the A/B lists of the first few probes.
"""
from __future__ import annotations

import numpy as np

from jobs.influence import Examples, cid_pool, measure_cid
from jobs.recorder import InfluenceLists, Recorder
from jobs.spec import JobSpec


class LiveCID:
    """Measures and records CID on `spec.diagnostics.probes` probes drawn by seed from `allowed`.

    train: the training set the model learns from (rows are training indices); labels and
    confounds [N_train] define the A and B groups (the original, confounded ones: the no-confound
    control is judged by the same groups)."""

    def __init__(self, spec: JobSpec, train: Examples, labels: np.ndarray, confounds: np.ndarray,
                 allowed: np.ndarray, recorder: Recorder):
        diagnostics = spec.diagnostics
        self.spec, self.train, self.recorder = spec, train, recorder
        self.labels, self.confounds = np.asarray(labels), np.asarray(confounds)
        rng = np.random.default_rng([spec.seed, 1])
        num_probes = min(diagnostics.probes, len(allowed))
        self.probe_index = np.sort(rng.choice(allowed, size=num_probes, replace=False)).astype(np.int64)
        self.pool_index = cid_pool(self.labels, self.confounds, per_group=diagnostics.sample, seed=spec.seed,
                                   allowed=allowed)
        self.latest: float | None = None

    def measure(self, model, step: int, phase: str) -> float:
        """Measure CID now, record it under `phase` at label `step`, and return it (nan when no
        probe had both an A and a B group)."""
        diagnostics = self.spec.diagnostics
        result = measure_cid(model, self.train, self.labels, self.confounds, self.probe_index, self.pool_index,
                             kind=diagnostics.score, scope=diagnostics.scope, top_layers=diagnostics.top_layers,
                             reference=self.spec.reference)
        p_values = [p.p_value for p in result.per_probe if np.isfinite(p.p_value)]
        extra = {"p_median": float(np.median(p_values)) if p_values else None,
                 "probes": len(result.per_probe)}
        self.recorder.cid(step, phase, result.value, per_probe=[p.cid for p in result.per_probe], extra=extra)
        for p in result.per_probe[:diagnostics.histogram_probes]:
            self.recorder.influence(InfluenceLists(step=step, probe=p.probe, a_index=p.a_index,
                                                   a_scores=p.a_scores, b_index=p.b_index, b_scores=p.b_scores,
                                                   phase=phase))
        self.latest = result.value
        return result.value
