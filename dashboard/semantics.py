"""What the scores on screen mean, one line each; shown beside the figures that use them."""
from __future__ import annotations

from jobs.contracts.enums import UNFINISHED_STATUSES, JobStatus

BOUNDED_SCORES = ("cosine", "embedding")


def influence_line(score: str = "cosine") -> str:
    """The meaning of an influence score of the given kind (diagnostics.score of the job)."""
    if score in BOUNDED_SCORES:
        what = ("the cosine of the two examples' loss gradients" if score == "cosine"
                else "the cosine of the two examples' [CLS] embeddings")
        return (f"Influence I(z_trn, z_prb) is {what}: bounded in [−1, 1]; positive means learning from "
                "z_trn also helps the probe's prediction, negative that it hurts it.")
    return ("Influence I(z_trn, z_prb) is the dot product of the two loss gradients: unbounded (compare "
            "values within a run only); positive means learning from z_trn also helps the probe.")


CID = ("CID = mean influence of group A (the probe's label and confound) − mean of group B (its label, "
       "the other confound). CID > 0: same-confound examples matter more, the model leans on the confound; "
       "CID near 0: the confound makes no difference to what supports a prediction.")

ROUNDS = ("Influence-tuning rounds are the dotted verticals: ▲ is CID just before a round, ▼ just after; "
          "the drop between them is what the round removed.")

WELCH = ("Welch's t-test compares the A and B scores of this probe: a small p (say < 0.05) says the two "
         "groups' influence really differs.")

BEHAVIOUR = ("Behaviour: worst group = the lowest accuracy over (label, confound) groups; agree − disagree = "
             "accuracy where the confound matches the label minus where it does not (near 0 for a model that "
             "ignores the confound); flip rate = share of predictions that change when only the confound is "
             "swapped or removed (0 = ignored).")

TABLE2 = ("Table 2: test accuracy in %, mean ± sample standard deviation over seeds; p = Welch's t-test "
          "against finetuning on the same dataset (small p: the difference is unlikely to be seed noise).")

TABLE1 = ("Agreement = share of a split in which the confound predicts the label (Table 1's spurious-attribute "
          "success rate): high in train and about half in test means a confound-reliant model will fail the test.")

SELECTION = ("Selected on dev: in a sweep, each (dataset, method, access rate)'s grid point with the highest mean "
             "dev accuracy over seeds is marked ✓ (the paper's model selection); dev acc is what it compares, "
             "flip rate % = test predictions that change when only the confound is swapped or removed.")
TABLE3 = ("Table 3: test accuracy % of the selected grid point, mean over seeds (n = seeds finished), when the "
          "method may use the confound label of only that share of train.")
EXPERIMENT_CID = ("Figure 3 over seeds: each method's CID averaged over its succeeded full-access runs at every "
                  "label step; influence and embedding tuning show a drop at each round (before -> after).")

COLLAPSED = ("Collapsed: training accuracy ended at chance, so the model learned neither the task nor the confound "
             "and its CID means nothing. Usual cause: a learning rate wrong for the model (the random 'tiny' model "
             "needs about 1e-3, a pretrained one like minilm about 2e-5) or too few label steps. Rerun with another "
             "train.lr or more steps, or set retry_collapsed to retry with the next seed.")


def no_results(progress: dict | None) -> str:
    """Why an experiment's Table 2 is empty, from its progress counts: still running, or every
    job ended without a result (collapsed, failed, cancelled)."""
    progress = progress or {}
    total, done = progress.get("total") or 0, progress.get("done") or 0
    if not total:
        return "This experiment has no jobs."
    if done < total or progress.get(JobStatus.SUCCEEDED):
        return "No finished jobs in this experiment yet."
    ended = ", ".join(f"{progress[s]} {s}" for s in (JobStatus.COLLAPSED, *UNFINISHED_STATUSES) if progress.get(s))
    advice = " " + COLLAPSED if progress.get(JobStatus.COLLAPSED) else ""
    return f"No job of this experiment succeeded: all {total} ended without a result ({ended}).{advice}"
