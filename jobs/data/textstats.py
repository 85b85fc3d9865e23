"""What a generator's texts look like: distinct words and length in words, per split.

The numbers the calibration (jobs/calibrate.py) prints beside the original datasets': a
generator with too few words lets a model memorise the task instead of reaching for the
confound. One definition of a word for every dataset: a lower-cased run of letters, digits,
apostrophes, hyphens, dots and commas inside a word ("1,250", "u.n.", "wouldn't"); punctuation
standing alone is no word.
"""
from __future__ import annotations

import re

import numpy as np
from pydantic import BaseModel

WORD = re.compile(r"[\w'][\w'.,-]*[\w']|\w")


def words(text: str) -> list[str]:
    """The words of a text, lower-cased (see the module's definition)."""
    return WORD.findall(text.lower())


class TextStats(BaseModel):
    """One split's texts: how many, distinct words, and length in words."""

    texts: int
    vocabulary: int
    length_mean: float
    length_sd: float
    length_min: int
    length_max: int


def text_stats(texts: list[str]) -> TextStats:
    """TextStats of a list of texts (an empty list: zeros)."""
    lengths = np.array([len(words(t)) for t in texts], dtype=np.int64)
    if not len(lengths):
        return TextStats(texts=0, vocabulary=0, length_mean=0.0, length_sd=0.0, length_min=0, length_max=0)
    vocabulary = {w for t in texts for w in words(t)}
    return TextStats(texts=len(texts), vocabulary=len(vocabulary), length_mean=float(lengths.mean()),
                     length_sd=float(lengths.std()), length_min=int(lengths.min()), length_max=int(lengths.max()))
