"""Confound rules: a confound defined from the text itself instead of an annotation column.

"token:WORD"     1 if WORD occurs as a whole word (case-insensitive), else 0;
                 confound names ["no WORD", "WORD"];
"regex:PATTERN"  1 if PATTERN matches anywhere in the text, else 0;
                 confound names ["no /PATTERN/", "/PATTERN/"].
Removing the matches gives both the counterfactual text and the no-confound control.

A rule given for a built-in dataset (TextLen, MSGS) REPLACES its annotated confound
(`replace_confound`): the splits keep their texts and labels, and the confound becomes what the
rule marks, so a confound discovered in the text (jobs.discovery) can be tuned away on any data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from jobs.data.dataset import ConfoundedDataset, DataError, Split
from jobs.spec import RULE_KINDS, rule_problem

KINDS = RULE_KINDS
FIELD = "confound_rule"


@dataclass(frozen=True)
class ConfoundRule:
    """A parsed rule; `value` and `remove` are plain methods so a dataset holding them pickles."""

    rule: str
    pattern: re.Pattern
    names: tuple[str, str]

    def value(self, text: str) -> int:
        """1 where the confound is present in `text`, else 0."""
        return int(self.pattern.search(text) is not None)

    def values(self, texts: list[str]) -> np.ndarray:
        """`value` of every text, int64 [N]."""
        return np.array([self.value(t) for t in texts], dtype=np.int64)

    def remove(self, text: str) -> str:
        """`text` with every match removed and the spaces it leaves behind closed."""
        return " ".join(self.pattern.sub(" ", text).split())

    def check(self, train_values: np.ndarray, file: str | None) -> None:
        """Refuse a rule that matches no training text or every one (it would define no confound)."""
        matched = int(train_values.sum())
        if matched == 0:
            raise DataError(f"rule {self.rule!r} matches no training text", file=file, field=FIELD)
        if matched == len(train_values):
            raise DataError(f"rule {self.rule!r} matches every training text", file=file, field=FIELD)


def parse_rule(rule: str) -> ConfoundRule:
    """A ConfoundRule from "token:WORD" or "regex:PATTERN"; DataError naming the field otherwise."""
    if problem := rule_problem(rule):  # the syntax JobSpec checks at submission
        raise DataError(problem, field=FIELD)
    kind, _, body = rule.partition(":")
    if kind == "token":
        # (?<!\w)...(?!\w) rather than \b: a WORD such as "c++" or "@user" ends in a non-word character
        pattern = re.compile(rf"(?<!\w){re.escape(body)}(?!\w)", re.IGNORECASE)
        return ConfoundRule(rule, pattern, (f"no {body}", body))
    pattern = re.compile(body)
    return ConfoundRule(rule, pattern, (f"no /{body}/", f"/{body}/"))


def replace_confound(dataset: ConfoundedDataset, rule: ConfoundRule) -> ConfoundedDataset:
    """`dataset` with its confound replaced by `rule`'s: every split's confounds become
    rule.values(texts), the names rule.names, and the control and counterfactual remove the
    matches (the dataset's own ones described the confound replaced). Texts, labels and the
    confound access subset stay. DataError if the rule marks no training text or every one."""
    rule.check(rule.values(dataset.train.texts), dataset.name)

    def marked(split: Split) -> Split:
        return Split(list(split.texts), split.labels.copy(), rule.values(split.texts))

    splits = {name: marked(split) for name, split in dataset.splits().items()}
    control = {name: Split([rule.remove(t) for t in s.texts], s.labels.copy(), s.confounds.copy())
               for name, s in splits.items()}
    return ConfoundedDataset(
        name=dataset.name, label_names=list(dataset.label_names), confound_names=list(rule.names),
        train=splits["train"], dev=splits["dev"], test=splits["test"], control=control,
        counterfactual=rule.remove, access=dataset.access,
        description=f"{dataset.description} Confound replaced by rule {rule.rule}.".strip(),
        meta={**dataset.meta, "confound_source": f"rule {rule.rule}",
              "replaced_confound": list(dataset.confound_names)})
