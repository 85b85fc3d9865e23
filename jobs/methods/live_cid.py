"""Live CID: the confound influence difference measured during training, on a fixed probe set.

The paper measured CID afterwards from saved checkpoints; here it is measured while the model
trains, always on the same probes and the same candidate pool, so that the points of one run
(and of runs with the same seed) compare like with like. Each point goes to the recorder with
its per-probe values, the median Welch p-value, and the A/B lists of the first few probes.

A point takes P + pool backward passes, minutes on a pretrained model: with a RunProgress it
reports its phase ("measuring CID (step 0)") when it starts and after every batch of the pool
(its share done weighted by tokens), so a display never sits without one.
"""
from __future__ import annotations

import numpy as np

from jobs.contracts.cid import CidExtra, CidPoint
from jobs.influence import Examples, InfluenceArguments, cid_pool, measure_cid
from jobs.methods.engine_path import EnginePathLog
from jobs.methods.run_progress import RunProgress, Work
from jobs.recorder import InfluenceLists, Recorder
from jobs.spec import JobSpec


class _PoolProgress:
    """Turns pairwise_scores' "n more pool examples scored" into RunProgress.advance: the share
    done is the share of tokens (the pool is scored shortest first, jobs.influence.fast.batching)."""

    def __init__(self, progress: RunProgress, phase: str, probe_tokens: int, pool_lengths: np.ndarray):
        self.progress, self.phase = progress, phase
        self.cumulative = np.concatenate([[0], np.cumsum(np.sort(pool_lengths))]) + probe_tokens
        self.scored = 0

    def update(self, n: int) -> None:
        self.scored = min(self.scored + int(n), len(self.cumulative) - 1)
        share = float(self.cumulative[self.scored] / max(self.cumulative[-1], 1))
        self.progress.advance(share, f"{self.phase}: {self.scored}/{len(self.cumulative) - 1} examples")

    def close(self) -> None:
        pass


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
        self.engine_path = EnginePathLog(recorder, "cid")  # the path of the scores, in the job
        self.progress: RunProgress | None = None  # set by the loop: phase and ETA reports

    def measure(self, model, step: int, phase: str, record_as: str | None = None) -> float:
        """Measure CID now, record it under `phase` (or `record_as`, the progress still saying
        `phase`) at label `step`, and return it (nan when no probe had both an A and a B group)."""
        diagnostics = self.spec.diagnostics
        pool_progress = None
        if self.progress is not None:
            words = self.progress.cid_phase(step, phase)
            self.progress.start(Work.CID, step, words)
            lengths = self.train.attention_mask.sum(1).cpu().numpy()
            pool_progress = _PoolProgress(self.progress, words, int(lengths[self.probe_index].sum()),
                                          lengths[self.pool_index])
        args = InfluenceArguments(kind=diagnostics.score, scope=diagnostics.scope,
                                  top_layers=diagnostics.top_layers, reference=self.spec.reference)
        result = measure_cid(model, self.train, self.labels, self.confounds, self.probe_index, self.pool_index,
                             args, progress=pool_progress, on_path=self.engine_path)
        if self.progress is not None:
            self.progress.finish(Work.CID, step)
        phase = record_as or phase
        p_values = [p.p_value for p in result.per_probe if np.isfinite(p.p_value)]
        extra = CidExtra(p_median=float(np.median(p_values)) if p_values else None, probes=len(result.per_probe))
        self.recorder.cid(CidPoint(step=step, phase=phase, value=result.value,
                                   per_probe=[p.cid for p in result.per_probe], extra=extra))
        for p in result.per_probe[:diagnostics.histogram_probes]:
            self.recorder.influence(InfluenceLists(step=step, probe=p.probe, a_index=p.a_index,
                                                   a_scores=p.a_scores, b_index=p.b_index, b_scores=p.b_scores,
                                                   phase=phase))
        self.latest = result.value
        return result.value
