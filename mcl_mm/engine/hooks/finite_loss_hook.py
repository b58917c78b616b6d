"""Stop training at the first NaN or Inf loss, before it is saved."""
import math

import torch
from mmengine.hooks import Hook
from mmengine.runner.checkpoint import find_latest_checkpoint

from mcl_mm.registry import HOOKS


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raises ``FloatingPointError`` as soon as a logged loss (``loss``, ``m0.loss_ce``,
    ``loss_cirkd_batch``, ...) is NaN or infinite, naming the losses, their values and the
    iteration.

    It runs after the iteration and before the checkpoint hook, so the broken weights are never
    saved: the latest checkpoint in the work dir (named in the message) stays the last good one,
    and ``--resume`` continues from it.
    """
    priority = 'ABOVE_NORMAL'  # before CheckpointHook (VERY_LOW) and LoggerHook

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # the logged values are the graph's tensors (detached here: no autograd warning)
        values = {name: float(value.detach() if isinstance(value, torch.Tensor) else value)
                  for name, value in (outputs or {}).items() if 'loss' in name}
        bad = {name: value for name, value in values.items() if not math.isfinite(value)}
        if not bad:
            return
        last = find_latest_checkpoint(runner.work_dir)
        raise FloatingPointError(
            f'non-finite loss at iteration {runner.iter + 1}: '
            + ', '.join(f'{name}={value}' for name, value in sorted(bad.items()))
            + '. Training stopped before saving; the last good checkpoint is '
            + (f'{last} (continue from it with --resume)' if last else 'none (none was saved)'))
