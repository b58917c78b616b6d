"""Synchronised batch normalisation on CPU process groups (gloo).

``torch.nn.SyncBatchNorm`` runs on GPUs only ("SyncBatchNorm expected input tensor to be on
GPU"), so recipes that use SyncBN (mmseg's configs, CIRKD's projection head) cannot train with
``tools/dist_train.sh`` on CPU machines. :class:`GlooSyncBatchNorm` computes the same batch
statistics over all ranks with a differentiable all-reduce, and
:class:`CPUDistributedDataParallel` (the model wrapper the tools use without CUDA) swaps every
``SyncBatchNorm`` of the model for it before wrapping.
"""
import torch
import torch.distributed as torch_dist
import torch.distributed.nn.functional as dist_fn
from mmengine.model import MMDistributedDataParallel
from torch import Tensor, nn

from mcl_mm.registry import MODEL_WRAPPERS


class GlooSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation whose training statistics are those of the whole global batch.

    Per channel, ``sum(x)``, ``sum(x^2)`` and the element count are all-reduced across the
    process group (differentiably, so the backward pass is synchronised too); mean and biased
    variance normalise the input, the running statistics are updated with the unbiased
    variance, as ``nn.SyncBatchNorm``. In eval mode, or without a process group of more than
    one rank, it is plain batch normalisation. Input: (B, C, ...).
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'expected at least 2D input (got {input.dim()}D input)')

    def forward(self, x: Tensor) -> Tensor:
        distributed = torch_dist.is_available() and torch_dist.is_initialized() \
            and torch_dist.get_world_size() > 1
        if not (self.training and distributed):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        count = x.new_full((1, ), x.numel() // x.shape[1], dtype=torch.float64)
        stats = torch.cat([x.sum(dims).double(), (x * x).sum(dims).double(), count])
        stats = dist_fn.all_reduce(stats)
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else \
                    1.0 / float(self.num_batches_tracked)
                unbiased = var * n / (n - 1).clamp_min(1)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean.to(x.dtype))
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased.to(x.dtype))
        shape = [1, c] + [1] * (x.dim() - 2)
        out = (x - mean.to(x.dtype).view(shape)) * torch.rsqrt(
            var.to(x.dtype).view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.SyncBatchNorm`` in ``module`` by a :class:`GlooSyncBatchNorm` with the
    same parameters and buffers; returns the (possibly new) module."""
    if isinstance(module, nn.SyncBatchNorm):
        new = GlooSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        new.requires_grad_(any(p.requires_grad for p in module.parameters()))
        return new
    for name, child in module.named_children():
        new = convert_sync_batchnorm(child)
        if new is not child:
            setattr(module, name, new)
    return module


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for CPU process groups: SyncBN layers become
    :class:`GlooSyncBatchNorm` (GPU-only otherwise), and no device ids are passed."""

    def __init__(self, module: nn.Module, **kwargs):
        kwargs['device_ids'] = None
        super().__init__(module=convert_sync_batchnorm(module), **kwargs)
