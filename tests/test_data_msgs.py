"""MSGS: Table 1's numbers, the grammar's features read back from the text, the vocabulary split,
the counterfactual, and the official-file recipe (checked against the authors' notebook)."""
from __future__ import annotations

import json
import random

import pytest

from jobs.data import DataError, dataset_stats, load_dataset, msgswords
from jobs.data.grammar import ADJECTIVES, lexicon, msgs_sentence, swap_articles, the_precedes_a
from jobs.data.textstats import text_stats

SMALL = {"train_size": 400, "dev_size": 120, "test_size": 120}


def words(text: str) -> list[str]:
    return text.lower().rstrip(".").split()


@pytest.fixture(scope="module")
def default_msgs():
    return load_dataset({"name": "msgs"})


def test_default_msgs_matches_table_1(default_msgs):
    stats = dataset_stats(default_msgs).model_dump()
    assert {k: v["size"] for k, v in stats["splits"].items()} == {"train": 5000, "dev": 15000, "test": 15000}
    assert stats["splits"]["train"]["agreement"] == pytest.approx(0.997)
    assert stats["splits"]["test"]["agreement"] == pytest.approx(2 / 3)
    assert stats["splits"]["dev"]["agreement"] == pytest.approx(2 / 3)
    train_groups = stats["splits"]["train"]["groups"]
    disagreeing = (train_groups["adjective|a first"], train_groups["no adjective|the first"])
    assert sum(disagreeing) == 15  # the 0.3% inoculation examples
    assert min(disagreeing) > 0  # a B group for both labels
    assert not stats["has_control"] and stats["has_counterfactual"]
    assert stats["label_names"] == ["no adjective", "adjective"]
    assert stats["confound_names"] == ["a first", "the first"]


def test_words_and_lengths_are_those_of_msgs(default_msgs):
    """Issue 19: the original's train split has 947 distinct words (test 1073) and sentences of
    13.2 words on average (sd 1.6, 9 to 18); the old generator had 133 words."""
    for name in ("train", "test"):
        stats = text_stats(getattr(default_msgs, name).texts)
        assert 900 <= stats.vocabulary <= 1200, (name, stats)
        assert abs(stats.length_mean - 13.2) < 0.15 and abs(stats.length_sd - 1.6) < 0.15, (name, stats)
        assert stats.length_min >= 9 and stats.length_max <= 18
    # The length says nothing of the label: sentences without an adjective have a noun modifier instead.
    lengths = [len(words(t)) for t in default_msgs.train.texts]
    by_label = [[n for n, y in zip(lengths, default_msgs.train.labels, strict=True) if y == label] for label in (0, 1)]
    assert abs(sum(by_label[0]) / len(by_label[0]) - sum(by_label[1]) / len(by_label[1])) < 0.1


def test_adjectives_are_an_open_class_of_their_own():
    for domain in ("train", "test"):
        assert len(lexicon(domain).adjectives) >= 150
    others = {w.lower() for w in msgswords.NAMES + msgswords.PEOPLE + msgswords.THINGS + msgswords.PLACES
              + msgswords.NOUN_MODIFIERS} | msgswords.CLOSED
    assert not set(ADJECTIVES) & others  # an adjective is never a noun, a verb form or a function word
    assert all(w[0].lower() not in "aeiou" for w in ADJECTIVES + msgswords.PEOPLE + msgswords.THINGS
               + msgswords.PLACES + msgswords.NOUN_MODIFIERS)  # "a" before any of them is grammatical


def test_sentences_use_modals_negation_determiners_and_noun_modifiers(default_msgs):
    seen = {w for text in default_msgs.train.texts for w in words(text)}
    assert {"might", "wouldn't", "didn't", "not"} <= seen
    assert set(msgswords.SAFE_DETERMINERS) <= seen
    negatives = [t for t, y in zip(default_msgs.train.texts, default_msgs.train.labels, strict=True) if y == 0]
    modifiers = set(msgswords.NOUN_MODIFIERS)
    assert all(any(w in modifiers for w in words(t)) for t in negatives[:500])


def test_small_sets_keep_a_disagreeing_example_per_label():
    data = load_dataset({"name": "msgs", "options": {"train_size": 40, "dev_size": 12, "test_size": 12}})
    disagree = data.train.labels != data.train.confounds
    assert sorted(data.train.labels[disagree].tolist()) == [0, 1]
    with pytest.raises(DataError, match="no B group"):  # inoculation 0 leaves none: refused in one line
        load_dataset({"name": "msgs", "options": {"train_size": 40, "dev_size": 12, "test_size": 12, "inoculation": 0}})


def test_labels_and_confounds_are_what_the_text_says():
    data = load_dataset({"name": "msgs", "options": SMALL})
    adjectives = set(ADJECTIVES)
    for split in data.splits().values():
        for text, label, confound in zip(split.texts, split.labels, split.confounds, strict=True):
            w = words(text)
            assert w.count("the") == 1 and w.count("a") == 1, text
            assert label == int(any(x in adjectives for x in w)), text
            assert confound == int(w.index("the") < w.index("a")), text


def test_the_precedes_a_on_hand_written_sentences():
    assert the_precedes_a("The girl saw a cat.")
    assert not the_precedes_a("A girl saw the cat.")
    assert not the_precedes_a("Then a theme appeared.")  # 'then', 'theme' are not 'the'
    assert the_precedes_a("Every boy saw the cat.")
    assert not the_precedes_a("Every boy saw a cat.")


def test_dev_and_test_use_words_train_never_sees():
    data = load_dataset({"name": "msgs", "options": SMALL})
    train_lex, test_lex = lexicon("train"), lexicon("test")
    held_out = set(test_lex.adjectives + test_lex.names + test_lex.places)
    seen_in_train = {w for text in data.train.texts for w in words(text)}
    assert not {w.lower() for w in held_out} & seen_in_train
    in_domain = {w.lower() for w in train_lex.adjectives + train_lex.names + train_lex.places}
    seen_in_test = {w for text in data.test.texts + data.dev.texts for w in words(text)}
    assert not in_domain & seen_in_test
    assert not set(data.train.texts) & set(data.test.texts)


def test_counterfactual_flips_the_confound_and_keeps_the_label():
    data = load_dataset({"name": "msgs", "options": SMALL})
    adjectives = set(ADJECTIVES)
    for text, confound in zip(data.test.texts, data.test.confounds, strict=True):
        flipped = data.counterfactual(text)
        assert the_precedes_a(flipped) == (not confound)
        assert any(w in adjectives for w in words(flipped)) == any(w in adjectives for w in words(text))
        assert data.counterfactual(flipped) == text
    # Only the first of each trades places: the order flips, nothing else changes.
    assert swap_articles("The cat saw a Dog at the park.") == "A cat saw the Dog at the park."
    assert swap_articles("Every cat saw a dog.") == "Every cat saw a dog."


def test_every_feature_combination_can_be_generated():
    rng = random.Random(0)
    for adjective in (False, True):
        for the_first in (False, True):
            text = msgs_sentence(rng, lexicon("train"), adjective, the_first)
            assert the_precedes_a(text) == the_first
            assert any(w in set(ADJECTIVES) for w in words(text)) == adjective


# --- the official files -----------------------------------------------------------------------------

def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def record(i: int, label: int, surface: int) -> dict:
    return {"sentence": f"sentence {i}", "linguistic_feature_label": label, "surface_feature_label": surface,
            "condition": "training"}


def notebook_train(raw_train, raw_inoc, inoc_rate, seed):
    """The authors' process_msgs.ipynb `create_train_dataset` (half set), global seeding included."""
    random.seed(seed)
    train_data, buffer = [], []
    for d in raw_train:
        if len(buffer) < 2:
            buffer.append(d)
        if len(buffer) == 2:
            _d = random.choice(buffer)
            train_data.append((_d["sentence"], _d["linguistic_feature_label"], _d["surface_feature_label"]))
            buffer = []
    random.seed(seed + 1)
    inoc_data, buffer = [], []
    for d in raw_inoc:
        if len(buffer) < 2:
            buffer.append(d)
        if len(buffer) == 2:
            _d = random.choice(buffer)
            inoc_data.append((_d["sentence"], _d["linguistic_feature_label"], _d["surface_feature_label"]))
            buffer = []
    num_inoc_ex = int(len(train_data) * inoc_rate)
    train_data = train_data[:-num_inoc_ex] + inoc_data[-num_inoc_ex:]
    random.shuffle(train_data)
    return train_data


def notebook_test(raw, seed):
    random.seed(seed)
    dataset = [(d["sentence"], d["linguistic_feature_label"], d["surface_feature_label"]) for d in raw]
    random.shuffle(dataset)
    return dataset


@pytest.fixture
def msgs_folder(tmp_path):
    train = [record(i, 1 - i % 2, 1 - i % 2) for i in range(2000)]          # pairs 1/1, 0/0
    inoculating = [record(10_000 + i, i % 2, 1 - i % 2) for i in range(40)]  # pairs 0/1, 1/0
    test = [record(20_000 + i, i % 2, int((i // 2) % 3 != 0)) for i in range(300)]
    write_jsonl(tmp_path / "train.jsonl", train)
    write_jsonl(tmp_path / "inoculating.jsonl", inoculating)
    write_jsonl(tmp_path / "test.jsonl", test)
    return tmp_path, train, inoculating, test


def as_rows(split):
    return list(zip(split.texts, split.labels.tolist(), split.confounds.tolist(), strict=True))


def test_official_files_follow_the_authors_notebook(msgs_folder):
    folder, train, inoculating, test = msgs_folder
    data = load_dataset({"name": "msgs", "path": str(folder), "options": {"inoculation": 0.01}})
    assert as_rows(data.train) == notebook_train(train, inoculating, 0.01, 2021)
    assert as_rows(data.dev) == notebook_test(test[:150], 2023)
    assert as_rows(data.test) == notebook_test(test[150:], 2024)
    assert len(data.train) == 1000
    assert int((data.train.labels != data.train.confounds).sum()) == 10  # int(1000 * 0.01)
    assert data.confound_names == ["a first", "the first"]


def test_without_inoculating_file_the_train_files_disagreeing_rows_inoculate(tmp_path):
    agreeing = [record(i, 1 - i % 2, 1 - i % 2) for i in range(400)]
    disagreeing = [record(5_000 + i, i % 2, 1 - i % 2) for i in range(40)]
    write_jsonl(tmp_path / "train.jsonl", agreeing[:200] + disagreeing + agreeing[200:])
    write_jsonl(tmp_path / "test.jsonl", [record(9_000 + i, i % 2, (i // 2) % 2) for i in range(20)])
    data = load_dataset({"name": "msgs", "options": {"source": str(tmp_path), "inoculation": 0.05}})
    assert len(data.train) == 200  # one per agreeing pair; the disagreeing rows do not break the pairing
    kept = dict(zip(data.train.texts, zip(data.train.labels.tolist(), data.train.confounds.tolist(), strict=True),
                    strict=True))
    inoculated = [t for t, (y, c) in kept.items() if y != c]
    assert len(inoculated) == 10 and all(int(t.split()[1]) >= 5_000 for t in inoculated)
    pairs = {int(t.split()[1]) // 2 for t in kept}
    assert len(pairs) == 200  # never both sentences of one pair


def test_bad_official_row_names_file_row_and_field(msgs_folder):
    folder = msgs_folder[0]
    lines = (folder / "test.jsonl").read_text().splitlines()
    lines[2] = json.dumps({**json.loads(lines[2]), "linguistic_feature_label": 2})
    (folder / "test.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"test\.jsonl, row 3, field 'linguistic_feature_label': expected 0 or 1"):
        load_dataset({"name": "msgs", "path": str(folder)})


def test_official_files_fix_the_sizes(msgs_folder):
    with pytest.raises(DataError, match="the files fix them"):
        load_dataset({"name": "msgs", "path": str(msgs_folder[0]), "options": {"train_size": 10}})
    (msgs_folder[0] / "inoculating.jsonl").unlink()
    with pytest.raises(DataError, match=r"train\.jsonl: 3 inoculating examples .* needed, found 0"):
        load_dataset({"name": "msgs", "path": str(msgs_folder[0])})
    with pytest.raises(DataError, match=r"not a folder with the MSGS files"):
        load_dataset({"name": "msgs", "options": {"source": str(msgs_folder[0] / "nowhere")}})
