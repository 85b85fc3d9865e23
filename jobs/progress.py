"""A recorder that draws a terminal progress bar: step, phase, loss, latest CID and ETA (tqdm).

The ETA is the engine's (label steps, CID points and influence updates timed apart in this run:
jobs.methods.run_progress), not tqdm's rate, which cannot know that a round of minutes follows
every `interval` steps of a second each. "~" marks an ETA that still rests on a guess."""
from __future__ import annotations

import sys

from tqdm import tqdm

from jobs.recorder import NullRecorder

BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"  # postfix brings its ", "


class ProgressBarRecorder(NullRecorder):
    """Shows progress on stderr; log lines are printed above the bar."""

    def __init__(self, desc: str = "train", file=None):
        self.desc = desc
        self.file = file or sys.stderr
        self.bar: tqdm | None = None
        self.latest_cid: float | None = None
        self.latest_loss: float | None = None

    def _ensure(self, total: int):
        if self.bar is None or self.bar.total != total:
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=total, desc=self.desc, unit="step", file=self.file, dynamic_ncols=True,
                            bar_format=BAR_FORMAT)

    def scalar(self, name, step, value):
        if name == "loss/train":
            self.latest_loss = value

    def cid(self, point):
        self.latest_cid = float("nan") if point.value is None else point.value

    def progress(self, step, total, eta_s, phase=None, eta_guessed=False):
        self._ensure(total)
        self.bar.n = step
        post = {}
        if phase:
            post["phase"] = phase
        if self.latest_loss is not None:
            post["loss"] = f"{self.latest_loss:.3f}"
        if self.latest_cid is not None:
            post["cid"] = f"{self.latest_cid:+.3f}"
        post["ETA"] = "?" if eta_s is None else ("~" if eta_guessed else "") + tqdm.format_interval(eta_s)
        self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()

    def log(self, message):
        (self.bar.write if self.bar is not None else lambda m: print(m, file=self.file))(message)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
