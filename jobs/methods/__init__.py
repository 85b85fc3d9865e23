"""Training methods: finetuning and the deconfounding methods, over one shared loop.

    result = train(spec, data, loaded, recorder, should_stop)

Each method is a small set of hooks (`jobs.methods.method.Method`, one file each) on the shared
loop (`jobs.methods.loop`), whose other concerns are callbacks (`jobs.methods.callbacks`).
NeuronTune finetunes its parent through that loop, then runs its own post hoc course.
"""
from __future__ import annotations

from collections.abc import Callable

from jobs.checkpoint import Checkpointer
from jobs.contracts.enums import MethodName
from jobs.data.dataset import ConfoundedDataset
from jobs.methods.adversarial import Adversarial
from jobs.methods.embedding_tuning import EmbeddingTuning
from jobs.methods.finetune import Finetune
from jobs.methods.influence_tuning import InfluenceTuning
from jobs.methods.loop import Method, TrainResult, run_method
from jobs.methods.neurontune import run_neurontune
from jobs.methods.no_confound import NoConfound
from jobs.models import LoadedModel
from jobs.recorder import Recorder
from jobs.spec import JobSpec

METHOD_CLASSES: dict[MethodName, type[Method]] = {
    MethodName.FINETUNE: Finetune,
    MethodName.INFLUENCE_TUNING: InfluenceTuning,
    MethodName.EMBEDDING_TUNING: EmbeddingTuning,
    MethodName.ADVERSARIAL: Adversarial,
    MethodName.NO_CONFOUND: NoConfound,
}

METHOD_DESCRIPTIONS: dict[MethodName, str] = {
    MethodName.FINETUNE: "label loss only: the confounded baseline",
    MethodName.INFLUENCE_TUNING: "label steps alternating with rounds that equalise the gradient-cosine influence "
                        "of same- and other-confound examples (section 4)",
    MethodName.EMBEDDING_TUNING: "influence tuning with the pooled-output cosine as the score; first order (section 4.1)",
    MethodName.ADVERSARIAL: "a confound adversary behind a gradient-reversal layer on the pooled output (section 5.1)",
    MethodName.NO_CONFOUND: "finetuning on the data with the confound removed: the upper-bound control",
    MethodName.NEURONTUNE: "post hoc, no confound labels: zero the penultimate neurons that go with dev errors and "
                  "retrain the head (NeuronTune); a saved parent model or finetuning first",
}

# How each method runs: the shared loop with the method's hooks, or NeuronTune (its parent through
# the shared loop, then its own post hoc course); all take train()'s arguments.
Train = Callable[..., TrainResult]


def _shared_loop(method: type[Method]) -> Train:
    return lambda spec, *args: run_method(method(), spec, *args)


RUNS: dict[MethodName, Train] = {**{name: _shared_loop(method) for name, method in METHOD_CLASSES.items()},
                          MethodName.NEURONTUNE: run_neurontune}


def train(spec: JobSpec, data: ConfoundedDataset, loaded: LoadedModel, recorder: Recorder,
          should_stop: Callable[[], bool] = lambda: False, checkpointer: Checkpointer | None = None,
          resume: dict | None = None) -> TrainResult:
    """Train `loaded.model` in place with spec.method; see jobs.methods.loop.run_method for the
    metrics and the checkpoints (NeuronTune: jobs.methods.neurontune.run_neurontune).
    Raises ValueError for a method the data cannot support (no-confound without a control)."""
    if spec.method not in RUNS:
        raise ValueError(f"unknown method '{spec.method}'; valid: {', '.join(RUNS)}")
    return RUNS[spec.method](spec, data, loaded, recorder, should_stop, checkpointer, resume)


__all__ = ["METHOD_CLASSES", "METHOD_DESCRIPTIONS", "RUNS", "TrainResult", "train"]
