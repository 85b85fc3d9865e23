#!/usr/bin/env bash
# The GPU path, once (issue 18 item 8): run on a machine with a CUDA GPU, from the repository root,
# in a venv with the project installed with a CUDA torch (pip install -e ".[test,lora]" torch).
# Writes everything under ${OUT:-gpu-check}/: the family matrix on CUDA, the family bench on CUDA,
# and one --scale paper TextLen influence-tuning job (a bert-base-shaped random model: no weights
# can be downloaded there), with wall times and torch's peak GPU memory. Budget: ~10 minutes.
set -u
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH=.
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
python -c "import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0))" \
    > "$OUT/torch.txt" 2>&1

# 1. The family x method x scope matrix with jobs on CUDA (~2 min).
start=$(date +%s)
DECONFOUND_TEST_DEVICE=cuda timeout 240 python -m pytest -q -p no:cacheprovider tests/test_families.py \
    > "$OUT/matrix.txt" 2>&1
echo "matrix: exit $? in $(( $(date +%s) - start )) s" >> "$OUT/summary.txt"

# 2. The family bench on CUDA (real shapes, random weights; peak = torch's allocator peak).
start=$(date +%s)
timeout 300 python -m benchmarks.influence --families --device cuda --cache /tmp/bench-shapes \
    --json "$OUT/bench-families.json" > "$OUT/bench-families.txt" 2>&1
echo "bench --families: exit $? in $(( $(date +%s) - start )) s" >> "$OUT/summary.txt"

# 3. One --scale paper TextLen influence-tuning job on a bert-base-shaped random model.
start=$(date +%s)
python - > "$OUT/paper-job.txt" 2>&1 <<'PY'
import time, torch
from benchmarks.influence.family_shapes import shape_dir
from jobs.presets import merge_fragments, scale_spec
from jobs.recorder import MemoryRecorder
from jobs.runner import run
from jobs.spec import JobSpec
model = str(shape_dir("bert-base", "/tmp/bench-shapes"))
raw = {"model": model, "device": "cuda", "method": "influence-tuning", "dataset": {"name": "textlen"}}
spec = JobSpec.model_validate(merge_fragments(scale_spec("paper", "textlen", "influence-tuning"), raw))
torch.cuda.reset_peak_memory_stats()
start = time.time()
outcome = run(spec, MemoryRecorder())
print(f"status {outcome.status}, wall {time.time() - start:.0f} s, peak GPU {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
PY
echo "paper job: exit $? in $(( $(date +%s) - start )) s" >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
