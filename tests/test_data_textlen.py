"""TextLen: Table 1's numbers, the published recipe (checked against a literal transcription of the
authors' notebook), the no-prefix control, the counterfactual, and the file path."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from jobs.data import DataError, dataset_stats, load_dataset
from jobs.data.sentences import news_sentences
from jobs.data.textlen import PREFIXES, TextLenOptions, build_textlen, swap_prefix


def groups(by_index: dict[str, int]) -> dict[str, int]:
    """{"y/c": n} -> the stats' {"<label name>|<confound name>": n} (TextLen: short/long, its two prefixes)."""
    label_names = ["short", "long"]
    return {f"{label_names[int(k[0])]}|{PREFIXES[int(k[2])]}": n for k, n in by_index.items()}


def write_conll(sentences: list[list[str]], path) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write("-DOCSTART- -X- -X- O\n\n")
        for tokens in sentences:
            out.writelines(f"{token} NNP I-NP O\n" for token in tokens)
            out.write("\n")


def notebook_modify_data(data, pos_size, low_mu, high_mu, sigma, rate, seed, prefix=True):
    """The authors' generate.ipynb `modify_data` / `modify_data_no_spur`, global seeding included."""
    pos_prefix, neg_prefix = ["Positive", "."], ["Negative", "."]
    random.seed(seed)
    np.random.seed(seed)
    neg_size = len(data) - pos_size
    pos_rand_len_list = [int(e) for e in np.random.normal(high_mu, sigma, pos_size)]
    neg_rand_len_list = [int(e) for e in np.random.normal(low_mu, sigma, neg_size)]
    pos_prefix_list = [pos_prefix if i < int(pos_size * rate) else neg_prefix for i in range(pos_size)]
    neg_prefix_list = [neg_prefix if i < int(neg_size * rate) else pos_prefix for i in range(neg_size)]
    random.shuffle(pos_prefix_list)
    random.shuffle(neg_prefix_list)
    new_data = []
    for tokens, rand_len, p in zip(data[:pos_size], pos_rand_len_list, pos_prefix_list, strict=True):
        new_data.append(((p if prefix else []) + tokens[:rand_len], 1, int(p == pos_prefix)))
    for tokens, rand_len, p in zip(data[-neg_size:], neg_rand_len_list, neg_prefix_list, strict=True):
        new_data.append(((p if prefix else []) + tokens[:rand_len], 0, int(p == pos_prefix)))
    random.shuffle(new_data)
    return [(" ".join(tokens), label, spur) for tokens, label, spur in new_data]


def notebook_pool(data, seed=2021):
    random.seed(seed)
    sub_data = [e[:30] for e in data if len(e) >= 30]
    random.shuffle(sub_data)
    return sub_data


def as_rows(split):
    return list(zip(split.texts, split.labels.tolist(), split.confounds.tolist(), strict=True))


def test_default_textlen_matches_table_1():
    data = load_dataset({"name": "textlen"})
    stats = dataset_stats(data).model_dump()
    assert {k: v["size"] for k, v in stats["splits"].items()} == {"train": 1500, "dev": 480, "test": 500}
    assert stats["splits"]["train"]["agreement"] == pytest.approx(0.9)
    assert stats["splits"]["dev"]["agreement"] == pytest.approx(0.5)
    assert stats["splits"]["test"]["agreement"] == pytest.approx(0.5)
    # Exact per-class shares, not only overall: 675 of each 750-example class carry its own prefix.
    assert stats["splits"]["train"]["groups"] == groups({"0/0": 675, "0/1": 75, "1/0": 75, "1/1": 675})
    assert stats["splits"]["test"]["groups"] == groups({"0/0": 125, "0/1": 125, "1/0": 125, "1/1": 125})
    assert stats["has_control"] and stats["has_counterfactual"]
    assert data.label_names == ["short", "long"] and data.confound_names == ["Negative .", "Positive ."]


def test_lengths_follow_the_two_normals_and_texts_are_prefix_plus_control():
    data = load_dataset({"name": "textlen"})
    for name, split in data.splits().items():
        control = data.control[name]
        lengths = data.meta["lengths"][name]
        for text, bare, confound, length in zip(split.texts, control.texts, split.confounds, lengths, strict=True):
            assert text == f"{PREFIXES[confound]} {bare}"
            assert len(bare.split()) == length
        assert np.array_equal(control.labels, split.labels) and np.array_equal(control.confounds, split.confounds)
    lengths, labels = data.meta["lengths"]["train"], data.train.labels
    assert abs(lengths[labels == 1].mean() - 24.5) < 1.0  # int() truncates N(25, 4) towards zero
    assert abs(lengths[labels == 0].mean() - 14.5) < 1.0
    assert lengths.min() >= 1 and lengths.max() <= 30


def test_recipe_reproduces_the_authors_notebook_on_the_same_sentences(tmp_path):
    source = news_sentences(140, seed=7)
    # Short sentences must be dropped before shuffling, as in the notebook.
    source = source[:50] + [s[:12] for s in source[:10]] + source[50:]
    test_source = news_sentences(60, seed=8)
    write_conll(source, tmp_path / "eng.train")
    write_conll(test_source, tmp_path / "eng.testa")
    sizes = {"train_size": 80, "dev_size": 30, "test_size": 40}
    data = load_dataset({"name": "textlen", "path": str(tmp_path), "options": sizes})

    train_pool, test_pool = notebook_pool(source), notebook_pool(test_source)
    expect = {
        "train": notebook_modify_data(train_pool[:80], 40, 15, 25, 4, 0.9, 2022),
        "dev": notebook_modify_data(train_pool[-30:], 15, 15, 25, 4, 0.5, 2023),
        "test": notebook_modify_data(test_pool[-40:], 20, 15, 25, 4, 0.5, 2023),
    }
    for name, split in data.splits().items():
        assert as_rows(split) == expect[name], name
    bare = notebook_modify_data(train_pool[:80], 40, 15, 25, 4, 0.9, 2022, prefix=False)
    assert as_rows(data.control["train"]) == bare


def test_counterfactual_swaps_the_prefix_only():
    data = load_dataset({"name": "textlen", "options": {"train_size": 20, "dev_size": 4, "test_size": 4}})
    for text, bare, confound in zip(data.train.texts, data.control["train"].texts, data.train.confounds, strict=True):
        flipped = data.counterfactual(text)
        assert flipped == f"{PREFIXES[1 - confound]} {bare}"
        assert data.counterfactual(flipped) == text
    assert swap_prefix("no prefix here") == "no prefix here"


def test_same_seed_same_data_other_seed_other_data():
    small = {"train_size": 30, "dev_size": 10, "test_size": 10}
    a = load_dataset({"name": "textlen", "options": small})
    b = load_dataset({"name": "textlen", "options": small})
    c = load_dataset({"name": "textlen", "options": small, "seed": 2022})
    assert a.train.texts == b.train.texts and np.array_equal(a.train.labels, b.train.labels)
    assert a.train.texts != c.train.texts


def test_too_few_long_sentences_is_one_clear_error(tmp_path):
    write_conll(news_sentences(10, seed=1), tmp_path / "eng.train")
    write_conll(news_sentences(10, seed=2), tmp_path / "eng.testa")
    with pytest.raises(DataError, match=r"eng\.train.*train and dev need 1980 sentences of at least 30 tokens, found 10"):
        load_dataset({"name": "textlen", "path": str(tmp_path)})


def test_a_folder_without_the_test_file_is_named(tmp_path):
    write_conll(news_sentences(10, seed=1), tmp_path / "eng.train")
    with pytest.raises(DataError, match=r"no CoNLL testa file \(looked for eng\.testa"):
        load_dataset({"name": "textlen", "path": str(tmp_path)})
    with pytest.raises(DataError, match=r"not a directory with CoNLL files"):
        load_dataset({"name": "textlen", "path": str(tmp_path / "missing")})


def test_bad_options_name_the_field(tmp_path):
    with pytest.raises(DataError, match=r"textlen options, field 'train_agreement'"):
        load_dataset({"name": "textlen", "options": {"train_agreement": 1.5}})
    with pytest.raises(DataError, match=r"field 'lenght_sd'.*valid options: train_size"):
        load_dataset({"name": "textlen", "options": {"lenght_sd": 3}})
    with pytest.raises(DataError, match="as path or as option source, not both"):
        load_dataset({"name": "textlen", "path": str(tmp_path), "options": {"source": "offline"}})


def test_options_change_the_recipe():
    opts = TextLenOptions(train_size=200, dev_size=10, test_size=10, train_agreement=0.6, long_mean=28)
    pool = news_sentences(240, seed=3)
    data = build_textlen(pool[:220], pool[220:], seed=5, opts=opts)
    assert dataset_stats(data).model_dump()["splits"]["train"]["groups"] == groups({"0/0": 60, "0/1": 40, "1/0": 40, "1/1": 60})
    assert data.meta["lengths"]["train"][data.train.labels == 1].mean() > 26


@pytest.mark.slow
def test_length_signal_survives_the_minilm_tokenizer_at_64():
    """Every TextLen text fits the paper's max length 64 in word pieces, so truncation never
    erases the length cue."""
    from transformers import AutoTokenizer

    from jobs.models import minilm_path

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    data = load_dataset({"name": "textlen"})
    for split in data.splits().values():
        pieces = [len(ids) for ids in tokenizer(split.texts)["input_ids"]]
        assert max(pieces) <= 64


def test_offline_sentences_have_conll_like_vocabulary():
    """Issue 19: the 1500 TextLen training sentences of CoNLL-2003, once cut, hold 6607 distinct
    words (test: 3090); the old offline sentences held 687. Names, places and figures are built
    from parts, so most of them are new."""
    from jobs.data.textstats import text_stats

    data = load_dataset({"name": "textlen"})
    train, test = text_stats(data.control["train"].texts), text_stats(data.control["test"].texts)
    assert train.vocabulary >= 5000 and test.vocabulary >= 2500
    capitalised = {w for text in data.control["train"].texts for w in text.split()[1:] if w[:1].isupper()}
    assert len(capitalised) >= 2000  # people, places, organisations
    assert sum(any(c.isdigit() for c in text) for text in data.control["train"].texts) > 500  # figures


def test_offline_pools_are_long_disjoint_and_stable():
    train, testa = news_sentences(300, "train", seed=4), news_sentences(100, "testa", seed=4)
    assert min(len(s) for s in train + testa) >= 30
    assert not {" ".join(s) for s in train} & {" ".join(s) for s in testa}
    assert news_sentences(50, "train", seed=4) == train[:50]


FIXTURE = Path(__file__).parent / "fixtures" / "data" / "conll"


def fixture_sentences(name: str) -> list[list[str]]:
    """The fixture's sentences, read here without the module under test."""
    sentences, words = [], []
    for line in (FIXTURE / name).read_text().splitlines() + [""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append(words)
            words = []
        else:
            words.append(line.split()[0])
    return sentences


def test_conll_fixture_files_feed_train_dev_from_eng_train_and_test_from_eng_testa():
    sizes = {"train_size": 16, "dev_size": 10, "test_size": 8}
    data = load_dataset({"name": "textlen", "path": str(FIXTURE), "options": sizes})
    long_train = {" ".join(s[:30]) for s in fixture_sentences("eng.train") if len(s) >= 30}
    long_testa = {" ".join(s[:30]) for s in fixture_sentences("eng.testa") if len(s) >= 30}
    assert len(long_train) == 30 and len(long_testa) == 14  # the short sentences and DOCSTART lines are out
    for name, bare in data.control.items():
        source = long_testa if name == "test" else long_train
        for text in bare.texts:  # each text is the start of one long sentence of the right file
            assert any(sentence.startswith(text) for sentence in source), (name, text)
    assert dataset_stats(data).model_dump()["splits"]["train"]["groups"] == groups({"0/0": 7, "0/1": 1, "1/0": 1, "1/1": 7})


def test_the_same_fixture_through_the_source_option():
    sizes = {"train_size": 16, "dev_size": 10, "test_size": 8}
    by_path = load_dataset({"name": "textlen", "path": str(FIXTURE), "options": sizes})
    by_option = load_dataset({"name": "textlen", "options": {**sizes, "source": str(FIXTURE)}})
    assert by_path.train.texts == by_option.train.texts and by_path.test.texts == by_option.test.texts


def test_length_options_shape_the_split():
    data = load_dataset({"name": "textlen", "options": {
        "train_size": 400, "dev_size": 10, "test_size": 10, "cut": 12, "min_tokens": 35,
        "long_mean": 11, "short_mean": 3, "std": 0.5}})
    lengths, labels = data.meta["lengths"]["train"], data.train.labels
    assert lengths.max() <= 12 and lengths.min() >= 1
    assert 10 <= lengths[labels == 1].mean() <= 11.5 and 2 <= lengths[labels == 0].mean() <= 3.5
    assert lengths[labels == 1].min() > lengths[labels == 0].max()  # N(11, .5) and N(3, .5) never meet


def test_hub_source_is_one_line_error_offline():
    with pytest.raises(DataError, match=r"^hf:conll2003: ") as error:
        load_dataset({"name": "textlen", "options": {"source": "hf:conll2003"}})
    assert "\n" not in str(error.value)
