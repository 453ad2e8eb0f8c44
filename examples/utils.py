"""Helpers that the example model imports.

tscheck follows the import: `scale_logits` is compiled because `TinyNet.postprocess` calls it,
so its numpy call is reported; `to_numpy` is never reached from compiled code, so it is not.
"""

import numpy as np
import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad height and width up to a multiple of `multiple` (fine in TorchScript)."""
    h, w = x.shape[-2], x.shape[-1]
    return F.pad(x, [0, (multiple - w % multiple) % multiple, 0, (multiple - h % multiple) % multiple])


def scale_logits(logits: Tensor, temperature: float) -> Tensor:
    t = float(np.clip(temperature, 0.05, 20.0))
    return logits / t


def to_numpy(x: Tensor) -> np.ndarray:
    """Eager-only convenience: Python code that nothing compiled calls."""
    return x.detach().cpu().numpy()
