"""The engine's command line: `deconfound run`, `deconfound datasets`, `deconfound models`, `deconfound spec`.

backend/cli.py adds the service commands (worker, api, up) on top of this parser, so the
engine stays free of web code.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from jobs.contracts.enums import METHODS, SCOPES, TRAINED_STATUSES, JobStatus
from jobs.presets import SCALES, merge_fragments, scale_spec
from jobs.spec import DEFAULT_MODEL, TINY_LR

COLLAPSED_ADVICE = ("collapsed: training accuracy ended at chance, so the model learned neither the task nor the "
                    "confound and its CID means nothing. Train {model} at another learning rate (now {lr:g}; "
                    "the random 'tiny' needs about 1e-3, a pretrained model about 2e-5) or for more steps, or "
                    "add --retry-collapsed N to retry with the next seed.")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _set_dotted(spec: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def spec_from_args(args: argparse.Namespace):
    """JobSpec from CLI flags: a base spec file, then the named flags, then --set overrides."""
    from jobs.contracts.fragments import dataset_by_name
    from jobs.spec import JobSpec, parse_lora

    raw: dict[str, Any] = json.loads(Path(args.spec).read_text()) if args.spec else {}
    raw["dataset"] = dataset_by_name(raw.get("dataset", {}))  # a spec file may say "dataset": "msgs"
    for flag, dotted in (("dataset", "dataset.name"), ("data_path", "dataset.path"),
                         ("access_rate", "dataset.access_rate"), ("model", "model"), ("method", "method"),
                         ("preset", "preset"), ("seed", "seed"), ("device", "device"),
                         ("max_steps", "train.max_steps"), ("epochs", "train.epochs"),
                         ("scope", "influence.scope"), ("update", "influence.update"), ("cid_every", "diagnostics.cid_every"),
                         ("cid_scope", "diagnostics.scope"), ("retry_collapsed", "retry_collapsed")):
        value = getattr(args, flag, None)
        if value is not None:
            _set_dotted(raw, dotted, value)
    if getattr(args, "reference", False):
        raw["reference"] = True
    if getattr(args, "lora", None) is not None:
        raw["lora"] = parse_lora(args.lora)
    for item in args.set or []:
        key, _, value = item.partition("=")
        if not _:
            raise SystemExit(f"--set expects KEY=VALUE (e.g. train.lr=3e-5), got '{item}'")
        _set_dotted(raw, key.strip(), _parse_value(value))
    if getattr(args, "scale", None):  # what `reproduce --scale` runs for this dataset and method, under the flags
        raw = merge_fragments(scale_spec(args.scale, raw["dataset"].get("name", "textlen"),
                                         raw.get("method", "finetune")), raw)
    return JobSpec.model_validate(raw)


def spec_or_exit(args: argparse.Namespace):
    """spec_from_args, or exit 2 with one line naming each bad field (never a traceback)."""
    from pydantic import ValidationError

    try:
        return spec_from_args(args)
    except ValidationError as error:
        reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg'].removeprefix('Value error, ')}"
                           for e in error.errors(include_url=False))
    except (ValueError, OSError) as error:
        reason = str(error)
    print(f"error: invalid job spec: {reason}", file=sys.stderr)
    raise SystemExit(2)


def _add_spec_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", help="textlen | msgs | custom (default textlen)")
    p.add_argument("--data-path", dest="data_path", help="custom dataset file/dir, or a CoNLL/MSGS source dir")
    p.add_argument("--access-rate", dest="access_rate", type=float, help="share of train with confound labels (Table 3)")
    p.add_argument("--model", help=f"minilm | tiny | a Hugging Face name or local path (default {DEFAULT_MODEL}; "
                                   f"tiny is random and trains at lr {TINY_LR:g} unless --set train.lr=...)")
    p.add_argument("--method", help=f"{' | '.join(METHODS)} (default finetune)")
    p.add_argument("--preset", help="'paper' or a '<dataset>/<method>' preset")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--max-steps", dest="max_steps", type=int, help="stop after N label steps")
    p.add_argument("--epochs", type=float)
    p.add_argument("--scope", choices=list(SCOPES), help="parameters influence tuning's score is taken over "
                                                         "(lora: the LoRA adapters')")
    p.add_argument("--update", choices=["scope", "all"], help="parameters an influence update moves: the scope's "
                                                              "(default, the paper's code) or all")
    p.add_argument("--cid-every", dest="cid_every", type=int, help="label steps between live CID points")
    p.add_argument("--cid-scope", dest="cid_scope", choices=list(SCOPES))
    p.add_argument("--lora", nargs="?", const="", metavar="r=8,alpha=16,targets=q,v",
                   help="train LoRA adapters (PEFT) on the frozen encoder, with the head; targets q, k, v, o, "
                        "qkv or module-name suffixes; alone: r=8, alpha=16, targets q,v")
    p.add_argument("--retry-collapsed", dest="retry_collapsed", type=int)
    p.add_argument("--reference", action="store_true", help="slow reference influence paths (debugging)")
    p.add_argument("--spec", help="a JSON job spec to start from")
    p.add_argument("--scale", choices=list(SCALES), help="the model, sizes and settings `reproduce --scale` gives "
                                                         "this dataset and method (your flags win)")
    p.add_argument("--threads", type=int, help="CPU threads torch may use (default: torch's choice)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any spec field, e.g. --set train.lr=3e-5")


def cmd_run(args: argparse.Namespace) -> int:

    from jobs.data.dataset import DataError
    from jobs.interrupt import ctrl_c_sets
    from jobs.progress import ProgressBarRecorder
    from jobs.recorder import JsonlRecorder, TeeRecorder
    from jobs.report import print_metrics
    from jobs.rounds import NoRounds
    from jobs.runner import run

    spec = spec_or_exit(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out or f"runs/{spec.dataset.name}-{spec.method}-{spec.model.replace('/', '_')}-{spec.seed}.jsonl")
    file_rec = JsonlRecorder(out)
    bar = ProgressBarRecorder(desc=f"{spec.method} {spec.dataset.name}")
    file_rec._write("spec", spec=spec.model_dump())
    checkpoints = ({"checkpoint_dir": args.checkpoint_dir, "checkpoint_every_s": args.checkpoint_every}
                   if args.checkpoint_dir else {})
    stop = threading.Event()
    try:
        with ctrl_c_sets(stop):  # the first Ctrl-C stops at the next step (saving a checkpoint), a second at once
            outcome = run(spec, TeeRecorder(file_rec, bar), stop.is_set, artifact_dir=args.save, **checkpoints)
    except (DataError, NoRounds) as exc:
        bar.close()  # the error is the last line, not a redrawn bar
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; partial log kept in", out, file=sys.stderr)
        return 130
    finally:
        bar.close()
        file_rec.close()
    if stop.is_set() and outcome.status == JobStatus.CANCELLED:
        saved = outcome.results.checkpoint_step
        resume = (f"; run the same command again to resume from step {saved}" if saved
                  else "; nothing saved yet: the same command starts again" if args.checkpoint_dir
                  else " (--checkpoint-dir DIR makes a run resumable)")
        print(f"\ninterrupted; partial log kept in {out}{resume}", file=sys.stderr)
        return 130
    print_metrics(outcome.results, title=f"{spec.method} on {spec.dataset.name} ({spec.model}, seed {outcome.seed})")
    print(f"status {outcome.status}, wall {outcome.wall_s:.1f} s, log {out}")
    if outcome.status == JobStatus.COLLAPSED:
        print(COLLAPSED_ADVICE.format(lr=spec.train.lr, model=spec.model), file=sys.stderr)
    return 0 if outcome.status in TRAINED_STATUSES else 1


def cmd_calibrate(args: argparse.Namespace) -> int:
    """`datasets --calibrate NAME`: the generator's finetune check beside the original's figures."""
    from jobs.calibrate import calibrate, calibration_table

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()] if args.seeds else [2021]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    def progress(row) -> None:
        print(f"seed {row.seed}: {row.status}, test acc {row.test_acc if row.test_acc is None else round(row.test_acc, 1)}"
              f", {row.wall_s:.0f} s", file=sys.stderr, flush=True)

    try:
        result = calibrate(args.calibrate, seeds, args.scale, on_row=progress)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(calibration_table(result), end="")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from jobs.data import BUILTIN_DATASETS, dataset_stats, load_dataset

    if args.calibrate:
        return cmd_calibrate(args)
    from jobs.report import print_table1
    from jobs.spec import DatasetSpec

    names = args.names or list(BUILTIN_DATASETS)
    stats = []
    for name in names:
        spec = DatasetSpec(name=name, path=args.data_path) if args.data_path else DatasetSpec(name=name)
        stats.append(dataset_stats(load_dataset(spec)))
    if args.json:
        print(json.dumps([json.loads(s.model_dump_json()) for s in stats], indent=2))  # NaN as null
    else:
        print_table1(stats)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """The model picker: built-ins, the local model directories (size, family, pooling), the families."""
    from jobs.model_catalogue import catalogue, default_data_dir, human_bytes, human_count
    from jobs.text_table import text_table

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    found = catalogue(data_dir)
    if args.json:
        print(found.model_dump_json(indent=2))
        return 0
    # A local model as `deconfound run --model` takes it (the service takes it relative to its data directory).
    rows = [[m.name if m.source == "builtin" else str(data_dir / m.name), m.source, m.family or "?", m.kind or "?", m.pooling or "?", human_count(m.parameters),
             human_bytes(m.size_bytes), m.note or m.description] for m in [*found.builtin, *found.local]]
    print(text_table(["model", "source", "family", "kind", "pooling", "parameters", "on disk", "note"], rows,
                     title=f"Models (default {found.default}; local: {data_dir / 'models'})",
                     right=("parameters", "on disk")))
    if not found.local:
        print(f"no local models: put a model directory (with its config.json) under {data_dir / 'models'}\n")
    print(text_table(["family", "model_type", "kind", "pooling"],
                     [[f.name, f.model_type, f.kind, f.pooling] for f in found.families],
                     title="Supported families (any other goes through the generic path or is refused, saying why)"))
    return 0


def cmd_spec(args: argparse.Namespace) -> int:
    print(spec_or_exit(args).model_dump_json(indent=2))
    return 0


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The parser with the engine's subcommands; returns (parser, subparsers) so the service
    can add its own. Each subcommand sets `func(args) -> int`."""
    parser = argparse.ArgumentParser(prog="deconfound",
                                     description="Find and remove the spurious cues a text classifier leans on.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="train one model with one method and report CID and accuracies")
    _add_spec_flags(p)
    p.add_argument("--out", help="JSONL log of every recorded point (default runs/<dataset>-<method>-<model>-<seed>.jsonl)")
    p.add_argument("--save", help="directory to save the trained model in")
    p.add_argument("--checkpoint-dir", dest="checkpoint_dir",
                   help="save the run's state here every --checkpoint-every seconds and at Ctrl-C; the same "
                        "command again resumes from it (the log file is cut back to match)")
    p.add_argument("--checkpoint-every", dest="checkpoint_every", type=float, default=300.0,
                   help="seconds between checkpoints (default 300)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("datasets", help="print Table 1 (sizes, confound agreement) of datasets")
    p.add_argument("names", nargs="*", help="dataset names (default: the built-in ones)")
    p.add_argument("--data-path", dest="data_path")
    p.add_argument("--json", action="store_true")
    p.add_argument("--calibrate", choices=["textlen", "msgs"],
                   help="finetune on the generated data and print it beside the original split's figures "
                        "(the generator's check; minutes per seed on a CPU)")
    p.add_argument("--seeds", help="--calibrate: comma-separated seeds (default 2021)")
    p.add_argument("--scale", choices=["cpu", "tiny"], default="cpu",
                   help="--calibrate: cpu (MiniLM, the check) or tiny (the random test model: the plumbing only)")
    p.add_argument("--threads", type=int, help="CPU threads torch may use (default: torch's choice)")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("models", help="list the built-in models, the supported families and the local models "
                                      "(size, family, pooling)")
    p.add_argument("--data-dir", dest="data_dir", help="where local models live, under models/ (default "
                                                      "$DECONFOUND_DATA_DIR or ./var)")
    p.add_argument("--json", action="store_true", help="the same answer as GET /api/models")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("spec", help="print the resolved job spec (presets applied) as JSON")
    _add_spec_flags(p)
    p.set_defaults(func=cmd_spec)
    return parser, sub


def main(argv: list[str] | None = None) -> int:
    parser, _ = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
