"""A test hook (imported by configs the distributed tests write): after training, every rank
saves its model's buffers (queues, memories, BN statistics) and parameters to
``work_dir/rank{r}_state.pth``, so a test can compare the ranks."""
import os

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankStateDumpHook(Hook):
    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                 if isinstance(v, torch.Tensor)}
        torch.save(state, os.path.join(runner.work_dir, f'rank{get_rank()}_state.pth'))
