"""Helpers shared by the losses."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def nearest_labels(labels: Tensor, size: Tuple[int, int]) -> Tensor:
    """(B, H, W) integer labels nearest-resized to ``size`` (h, w) -> (B, h, w).

    The same pixels as ``F.interpolate(labels[:, None].float(), size, mode='nearest')`` (the
    reference's way), without converting the full-size map: the source row and column of every
    output pixel are computed by that same interpolation on an ``arange`` of H and of W (exact
    in float32 below 2^24), and only the picked labels are read. At 2 x 512 x 1024 labels to
    64 x 128 on one CPU thread: 0.21-0.35 ms against 0.88-1.5 ms (measured in two runs).
    """
    H, W = labels.shape[-2:]
    h, w = size
    if (h, w) == (H, W):
        return labels
    grid = torch.arange(max(H, W), dtype=torch.float32, device=labels.device)
    rows = F.interpolate(grid[:H].view(1, 1, H, 1), size=(h, 1), mode='nearest').view(h)
    cols = F.interpolate(grid[:W].view(1, 1, 1, W), size=(1, w), mode='nearest').view(w)
    return labels.index_select(-2, rows.long()).index_select(-1, cols.long())
