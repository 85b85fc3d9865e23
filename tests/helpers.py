"""Small builders shared by several test modules."""
import numpy as np
import torch

from jobs.influence import Examples
from jobs.models import encode, load_model


def jittered_tiny64(texts: list[str], labels: np.ndarray, seed: int = 1, noise: float = 0.2):
    """(model, Examples) of `tiny` in float64, eval mode, weights jittered by N(0, noise^2).

    At initialisation every example's gradient points the same way (cosines of 0.9999, J near
    1e-10), which would make comparisons of scores or derivatives vacuous."""
    loaded = load_model("tiny", dtype=torch.float64, device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in loaded.model.parameters():
            p.add_(noise * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    loaded.model.eval()
    return loaded.model, Examples.from_encoded(encode(loaded.tokenizer, texts, 32), labels)
