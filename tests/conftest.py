"""Suite-wide settings: offline, and one torch thread per test process.

Tests are many small models on a 2-core machine; one thread each avoids oversubscription when
test processes (or worker subprocesses) run side by side."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

torch.set_num_threads(1)
