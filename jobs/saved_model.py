"""A trained classifier on disk and back: its weights, its tokenizer and the spec that made it.

    save_model(loaded, spec, directory)
    loaded, spec = load_saved_model(directory)

A model with LoRA adapters (jobs/lora.py) is saved as its adapters and head alone (model.pt) with
lora.json; the reload builds the spec's base model again, adds the adapters and checks that the
base is the one they were trained on.
"""
from __future__ import annotations

from pathlib import Path

import torch

from jobs.lora import adapter_state, add_lora, load_adapter_state, lora_of, save_adapter, saved_lora
from jobs.models import load_model
from jobs.neurons import head_from_state
from jobs.spec import JobSpec


def save_model(loaded, spec: JobSpec, directory: Path) -> Path:
    """Write the classifier's weights, its tokenizer and the spec that made it."""
    directory.mkdir(parents=True, exist_ok=True)
    if lora_of(loaded.model) is not None:
        torch.save(adapter_state(loaded.model), directory / "model.pt")
        save_adapter(loaded.model, directory)
    else:
        torch.save(loaded.model.state_dict(), directory / "model.pt")
    loaded.tokenizer.save_pretrained(str(directory / "tokenizer"))
    (directory / "spec.json").write_text(spec.model_dump_json(indent=2))
    return directory


def load_saved_model(directory: str | Path, device: str = "auto", dtype: torch.dtype | None = None):
    """Read back what save_model wrote: (LoadedModel, the JobSpec that made it).

    The architecture is the spec's model with the saved head: a plain linear head, or the masked
    head of a NeuronTune model (jobs.neurons.MaskedHead). dtype: the spec's own unless given."""
    from transformers import AutoTokenizer  # heavy: only when a saved model is read

    directory = Path(directory)
    if not (directory / "model.pt").is_file() or not (directory / "spec.json").is_file():
        raise ValueError(f"{directory}: not a saved model (model.pt and spec.json expected)")
    spec = JobSpec.model_validate_json((directory / "spec.json").read_text())
    state = torch.load(directory / "model.pt", map_location="cpu", weights_only=True)
    dtype = dtype or (torch.float64 if spec.dtype == "float64" else torch.float32)
    loaded = load_model(spec.model, num_labels=state["head.bias"].shape[0], device=device, seed=spec.seed,
                        dtype=dtype)
    head = head_from_state(state)
    if head is not None:
        loaded.model.head = head.to(device=loaded.device, dtype=dtype)
    if (lora := saved_lora(directory)) is not None:
        add_lora(loaded.model, lora)
        load_adapter_state(loaded.model, state, directory)
    else:
        loaded.model.load_state_dict(state)
    if (directory / "tokenizer").is_dir():
        loaded.tokenizer = AutoTokenizer.from_pretrained(str(directory / "tokenizer"))
    return loaded, spec
