"""CoNLL-2003 sentences as token lists: from local files, the Hugging Face hub, or the offline pool.

The IOB files hold one "word POS chunk NER" line per token, a blank line between
sentences and "-DOCSTART-" lines between documents. TextLen only needs the words.
`source` is one of:
  "offline"       the project's own news-like sentences (jobs/data/sentences.py);
  a directory     holding eng.train and eng.testa (or train.txt and valid.txt);
  "hf:conll2003"  through the `datasets` package, where a hub is reachable.
"""
from __future__ import annotations

from pathlib import Path

from jobs.data.dataset import DataError
from jobs.data.hub import is_hub_path, load_hub_splits
from jobs.data.sentences import news_sentences

# CoNLL's own names first, then the names common in re-distributions
FILE_NAMES = {"train": ("eng.train", "train.txt"), "testa": ("eng.testa", "valid.txt", "dev.txt")}
HUB_SPLITS = {"train": "train", "testa": "validation"}


def read_conll(path: Path) -> list[list[str]]:
    """The sentences of one CoNLL IOB file, each a list of words, in file order."""
    sentences: list[list[str]] = []
    words: list[str] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if not fields or fields[0] == "-DOCSTART-":
                    if words:
                        sentences.append(words)
                    words = []
                    continue
                words.append(fields[0])
    except OSError as error:
        raise DataError(f"cannot read: {error.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text", file=str(path)) from None
    if words:
        sentences.append(words)
    if not sentences:
        raise DataError("no sentences (expected 'word POS chunk NER' lines)", file=str(path))
    return sentences


def conll_file(directory: Path, part: str) -> Path:
    """The file in `directory` that holds CoNLL part "train" or "testa"."""
    for name in FILE_NAMES[part]:
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"no CoNLL {part} file (looked for {', '.join(FILE_NAMES[part])})", file=str(directory))


def conll_sentences(source: str, part: str, needed: int, seed: int, min_tokens: int) -> tuple[list[list[str]], str]:
    """Sentences of CoNLL part "train" or "testa" from `source`, and a name for error messages.

    needed: how many long sentences the caller will use (only the offline pool, which is
    endless, looks at it).
    """
    if source == "offline":
        return news_sentences(needed, part, seed=seed, min_tokens=min_tokens), f"offline:{part}"
    if is_hub_path(source):
        splits = load_hub_splits(source)
        if HUB_SPLITS[part] not in splits or "tokens" not in (splits[HUB_SPLITS[part]] or [{}])[0]:
            raise DataError(f"expected a '{HUB_SPLITS[part]}' split with a 'tokens' field", file=source)
        return [list(row["tokens"]) for row in splits[HUB_SPLITS[part]]], f"{source}:{HUB_SPLITS[part]}"
    directory = Path(source)
    if not directory.is_dir():
        raise DataError("not a directory with CoNLL files; use 'offline', a directory or 'hf:conll2003'",
                        file=source)
    path = conll_file(directory, part)
    return read_conll(path), str(path)
