"""A confound rule on a built-in dataset replaces its annotated confound (jobs.data.rules.replace_confound):
what NeuronTune's suggestions need to become an influence-tuning job on TextLen or MSGS."""
import re

import numpy as np
import pytest

from jobs.data import DataError, load_dataset

SIZES = {"train_size": 60, "dev_size": 30, "test_size": 30}


@pytest.mark.parametrize("name, rule, marks", [
    ("textlen", "token:positive", lambda t: re.search(r"(?<!\w)positive(?!\w)", t, re.I) is not None),
    # sentences that open with a determiner (not a name): about 3 in 4 of either label
    ("msgs", r"regex:^(The|A|Some|Each|Every|No|That|This)\b",
     lambda t: t.split()[0] in ("The", "A", "Some", "Each", "Every", "No", "That", "This")),
])
def test_the_rule_is_the_confound_of_every_split(name, rule, marks):
    original = load_dataset({"name": name, "options": SIZES})
    data = load_dataset({"name": name, "options": SIZES, "confound_rule": rule})
    body = rule.partition(":")[2]
    assert data.confound_names == ([f"no {body}", body] if rule.startswith("token:") else [f"no /{body}/", f"/{body}/"])
    for split, before in zip(data.splits().values(), original.splits().values(), strict=True):
        assert split.texts == before.texts and np.array_equal(split.labels, before.labels)
        assert split.confounds.tolist() == [int(marks(t)) for t in split.texts]
        assert 0 < split.confounds.sum() < len(split)
    # the counterfactual and the no-confound control remove what the rule marks
    marked = data.train.texts[int(np.flatnonzero(data.train.confounds)[0])]
    assert not marks(data.counterfactual(marked))
    assert not any(marks(t) for t in data.control["test"].texts)
    assert data.meta["confound_source"] == f"rule {rule}"
    assert data.meta["replaced_confound"] == original.confound_names


def test_textlens_prefix_rule_reproduces_the_annotated_confound():
    original = load_dataset({"name": "textlen", "options": SIZES})
    data = load_dataset({"name": "textlen", "options": SIZES, "confound_rule": "token:positive"})
    positive = original.confound_names.index("Positive .")
    assert data.test.confounds.tolist() == (original.test.confounds == positive).astype(int).tolist()


def test_a_rule_that_defines_no_confound_on_a_built_in_is_one_line():
    with pytest.raises(DataError, match=r"^msgs, field 'confound_rule': rule 'regex:\[a-z\]' matches every training text$"):
        load_dataset({"name": "msgs", "options": SIZES, "confound_rule": "regex:[a-z]"})
    with pytest.raises(DataError, match=r"field 'confound_rule': bad regular expression"):
        load_dataset({"name": "textlen", "options": SIZES, "confound_rule": "regex:(x"})
