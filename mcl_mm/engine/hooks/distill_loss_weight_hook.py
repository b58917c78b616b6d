"""Ramp distillation losses in, or switch them off after some iterations."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mcl_mm.registry import HOOKS


@HOOKS.register_module()
class DistillLossWeightHook(Hook):
    """Sets ``model.distill_weight_scale`` before every training iteration.

    The scale multiplies every distillation loss of a distiller: it rises linearly from
    ``1 / warmup_iters`` to 1 over the first ``warmup_iters`` iterations, and is 0 from
    iteration ``stop_iter`` on (the teacher is then not run at all). It is logged as
    ``distill_weight_scale``.

    Args:
        warmup_iters (int): length of the linear ramp; 0 for none.
        stop_iter (int, optional): first iteration without distillation.
    """
    priority = 'NORMAL'

    def __init__(self, warmup_iters: int = 0, stop_iter: Optional[int] = None):
        if warmup_iters < 0 or (stop_iter is not None and stop_iter < 0):
            raise ValueError('DistillLossWeightHook: warmup_iters and stop_iter must be >= 0, '
                             f'got {warmup_iters} and {stop_iter}')
        self.warmup_iters = warmup_iters
        self.stop_iter = stop_iter

    def scale_at(self, it: int) -> float:
        """The scale of (0-based) iteration ``it``."""
        if self.stop_iter is not None and it >= self.stop_iter:
            return 0.
        if self.warmup_iters and it < self.warmup_iters:
            return (it + 1) / self.warmup_iters
        return 1.

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'distill_weight_scale'):
            raise TypeError(f'DistillLossWeightHook needs a distiller model, got {type(model)}')
        model.distill_weight_scale = self.scale_at(runner.iter)
        runner.message_hub.update_scalar('train/distill_weight_scale',
                                         model.distill_weight_scale)
