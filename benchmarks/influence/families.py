"""`deconfound bench --families`: R1, R2 and R4 per model family, on random models of real shapes.

Each family's ratios are ours / its own training time per example (same run, same examples), and
beside them the ratio to bert-base's: the goal is every family within 1.5x of BERT's. R1 is the
full update over the family's scope (every parameter; the adapters for the LoRA decoder) with its
calls sized from the memory free (jobs/influence/chunking.py), and its peak memory is the goal's
second half: a bert-base-shaped update under 8 GB.
"""
from __future__ import annotations

import gc
from pathlib import Path

from benchmarks.influence import cases
from benchmarks.influence.cases import Row
from benchmarks.influence.family_shapes import SHAPES, shape_dir
from benchmarks.influence.workload import textlen_like
from jobs.lora import add_lora
from jobs.models import load_model
from jobs.spec import LoraSpec

# Smaller than the MiniLM runs (a 0.5B model trains at about a second per example on this CPU):
# R1 over `tuples` tuples, R2 over r2_train examples, the baseline over `train_steps` batches of 16.
SIZES = {"tuples": 8, "r2_train": 120, "train_steps": 2, "train_batch": 16}
QUICK_SIZES = {"tuples": 4, "r2_train": 40, "train_steps": 1, "train_batch": 8}  # --quick
MEASURES = ("R1 influence-tuning update", "R2 CID scores", "R4 embedding-tuning update")


def run_family(name: str, device, cache: Path, sizes: dict | None = None, log=print) -> list[Row]:
    sizes = sizes or SIZES
    shape = SHAPES[name]
    loaded = load_model(str(shape_dir(name, cache)), device=str(device))
    if shape.lora:
        add_lora(loaded.model, LoraSpec(**shape.lora))
    model = loaded.model.eval()
    work = textlen_like(loaded.tokenizer, max(300, sizes["r2_train"]), device=device)
    per_example, train_peak = cases.train_seconds_per_example(model, work, device, steps=sizes["train_steps"],
                                                              batch=sizes["train_batch"])
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    rows = [Row(name, "baseline: training step / example", per_example, per_example, 1.0, None, train_peak,
                f"batch {sizes['train_batch']}, AdamW; {params / 1e6:.0f}M parameters, {trainable / 1e6:.2f}M trained",
                device.type)]
    log(f"[{name}] training: {per_example * 1e3:.1f} ms per example, {params / 1e6:.0f}M parameters")
    for measure in ("r1", "r2", "r4"):
        if measure == "r1":
            measured = cases.r1(model, name, work, device, per_example, sizes["tuples"], 5, None, shape.scope,
                                with_loop=False)
        elif measure == "r2":
            measured = cases.r2(model, name, work, device, per_example, sizes["r2_train"], 40, 0, shape.scope)
        else:
            measured = cases.r4(model, name, work, device, per_example, sizes["tuples"], 5)
        for row in measured:
            row.device = device.type
            rows.append(row)
            log(f"[{name}] {row.name}: ratio {row.ratio:.2f}, {row.ours_s:.1f} s, peak {row.peak_mb:.0f} MiB")
    del model, loaded
    gc.collect()
    return rows


def relative_table(rows: list[Row]) -> str:
    """Markdown: per family, each measure's ratio and that ratio over bert-base's; R1's peak."""
    ratio = {(r.model, r.name): r for r in rows}
    families = list(dict.fromkeys(r.model for r in rows))
    lines = ["| family | R1 | R1 / BERT's | R2 | R2 / BERT's | R4 | R4 / BERT's | R1 peak MiB | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    for family in families:
        cells = []
        for measure in MEASURES:
            ours, bert = ratio.get((family, measure)), ratio.get(("bert-base", measure))
            cells += [f"{ours.ratio:.2f}" if ours else "-",
                      f"{ours.ratio / bert.ratio:.2f}" if ours and bert else "-"]
        r1 = ratio.get((family, MEASURES[0]))
        base = ratio.get((family, "baseline: training step / example"))
        lines.append(f"| {family} | {' | '.join(cells)} | {r1.peak_mb:.0f} | {base.note if base else ''} |"
                     if r1 else f"| {family} | {' | '.join(cells)} | - | |")
    return "\n".join(lines)
