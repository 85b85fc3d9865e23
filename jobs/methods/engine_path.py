"""The influence engine's path, recorded in the job: which way a CID measurement or an influence
update was computed (the fast engine, one example at a time, or the per-example loop) and why.

On the first path and whenever it changes: a log line (a warning for a fallback to the loop,
never silent; the CLI prints log lines) and a diagnostic "influence.engine.<use>" holding it.
"""
from __future__ import annotations

from jobs.influence import EnginePath
from jobs.recorder import Recorder


class EnginePathLog:
    """A PathSink (jobs.influence.engine) for one use of the engine ("cid", "update")."""

    def __init__(self, recorder: Recorder, use: str):
        self.recorder, self.use = recorder, use
        self.last: EnginePath | None = None

    def __call__(self, path: EnginePath) -> None:
        if path == self.last:
            return
        self.last = path
        self.recorder.log(path.message(f"influence engine ({self.use})"))
        self.recorder.diagnostic(f"influence.engine.{self.use}", path.model_dump())
