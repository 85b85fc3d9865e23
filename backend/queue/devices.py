"""Which devices the service's workers have, for the API to refuse a job no worker can run.

A worker announces itself when it starts (`deconfound worker`): one small JSON file in
`<data dir>/workers/` with its id, its --device (which overrides every job's own) and the CUDA
devices it sees; it removes the file when it exits. The data directory is shared by the API
and every worker (specs name files relative to it), so this needs no table. A worker killed
outright leaves its file: one of this machine whose process is gone is ignored (backend.queue.worker.worker_is_gone);
one of another machine counts until that machine's worker starts again under the same id.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WORKERS_DIR = "workers"


@dataclass(frozen=True)
class WorkerDevices:
    worker_id: str
    device: str | None  # --device: every job this worker runs goes there, whatever its spec says
    cuda_devices: int

    def can_run(self, device: str) -> bool:
        """Whether a job whose spec asks for `device` ("cuda", "cuda:N") runs here on it (or,
        with --device, on the worker's own)."""
        if self.device:
            return True
        _, _, index = device.partition(":")
        return self.cuda_devices > (int(index) if index else 0)


def _record(data_dir: Path, worker_id: str) -> Path:
    return Path(data_dir) / WORKERS_DIR / (re.sub(r"[^\w.-]", "_", worker_id) + ".json")


def announce(data_dir: Path, worker_id: str, device: str | None) -> Path:
    """Record this worker's devices (written whole, then renamed: a reader never sees half)."""
    import torch

    path = _record(data_dir, worker_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps({"worker_id": worker_id, "device": device,
                                   "cuda_devices": torch.cuda.device_count()}))
    os.replace(partial, path)
    return path


def withdraw(path: Path) -> None:
    path.unlink(missing_ok=True)


def known_workers(data_dir: Path, is_gone: Callable[[str], bool]) -> list[WorkerDevices]:
    """The workers that have announced themselves and are not gone (is_gone(worker_id):
    backend.queue.worker.worker_is_gone, which imports this module)."""
    found = []
    for path in sorted((Path(data_dir) / WORKERS_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            worker = WorkerDevices(str(record["worker_id"]), record.get("device") or None,
                                   int(record.get("cuda_devices") or 0))
        except (OSError, ValueError, KeyError, TypeError):  # half a file of an older version: skip it
            continue
        if not is_gone(worker.worker_id):
            found.append(worker)
    return found
