"""Child process of peers.dattri: dattri's gradient-cosine scores on the benchmark's examples.

Rebuilds the same model and workload (same seeds), times TracInAttributor.attribute and writes
{"seconds": ..., "scores": [N][P]} as JSON to --out."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.influence.workload import textlen_like
from jobs.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--model", "--out"):
        parser.add_argument(flag, required=True)
    for flag in ("--train", "--probes", "--batch", "--size", "--threads"):
        parser.add_argument(flag, type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from dattri.algorithm.tracin import TracInAttributor
    from dattri.task import AttributionTask

    loaded = load_model(args.model, device="cpu")
    model = loaded.model.eval()
    work = textlen_like(loaded.tokenizer, args.size)
    train, probes = work.train.take(np.arange(args.train)), work.train.take(np.arange(args.probes))

    class Logits(torch.nn.Module):
        """torch.func needs the attention mask prepared: a 4D additive one, per example."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, ids, mask):
            additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
            return self.inner(ids, additive)[0]

    peer = Logits(model)

    def loss(params, data):
        ids, mask, label = data
        logits = torch.func.functional_call(peer, params, (ids[None], mask[None]))
        return F.cross_entropy(logits, label[None])

    task = AttributionTask(loss_func=loss, model=peer, checkpoints=peer.state_dict())
    attributor = TracInAttributor(task=task, weight_list=torch.ones(1), normalized_grad=True, device="cpu")
    attributor.projector_kwargs = None          # exact gradients, no random projection

    def loader(ex):
        data = torch.utils.data.TensorDataset(ex.input_ids, ex.attention_mask, ex.labels)
        return torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=False)

    started = time.perf_counter()
    scores = attributor.attribute(loader(train), loader(probes))                  # [N, P]
    seconds = time.perf_counter() - started
    with open(args.out, "w") as f:
        json.dump({"seconds": seconds, "scores": scores.tolist()}, f)


if __name__ == "__main__":
    main()
