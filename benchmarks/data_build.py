"""How long the built-in datasets take to build at full size, against tokenising them.

    .venv/bin/python benchmarks/data_build.py [--repeats 5] [--datasets textlen msgs]

For each dataset: the median wall time of `load_dataset({"name": NAME})` (Table 1's sizes,
generated from the packaged word pools) and, as the baseline in the same run, the median time
to tokenise every text of its three splits with the tokenizer the jobs use (`tiny`/`minilm`
share MiniLM's, max length 64): the step every job takes right after building its data. The
ratio build / tokenise says whether building is a noticeable part of a job's start-up; the
tests used to assert "under 2 s" instead, which a loaded machine broke.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from jobs.data import load_dataset  # noqa: E402
from jobs.models import encode, minilm_path  # noqa: E402


def median_seconds(call, repeats: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=["textlen", "msgs"])
    args = parser.parse_args()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; median of {args.repeats}")
    print("| dataset | examples | build s | tokenise s (baseline) | ratio build / tokenise |")
    print("|---|---:|---:|---:|---:|")
    for name in args.datasets:
        build_s, data = median_seconds(lambda name=name: load_dataset({"name": name}), args.repeats)
        texts = [text for split in data.splits().values() for text in split.texts]
        tokenise_s, _ = median_seconds(lambda texts=texts: encode(tokenizer, texts, 64), args.repeats)
        print(f"| {name} | {len(texts)} | {build_s:.3f} | {tokenise_s:.3f} | {build_s / tokenise_s:.2f} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
