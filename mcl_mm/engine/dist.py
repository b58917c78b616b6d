"""CPU-only distributed set-up for MMEngine's ``pytorch`` launcher.

mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` unconditionally,
which raises on a CPU-only torch, and its ``Runner.wrap_model`` passes
``device_ids=[LOCAL_RANK]`` to DDP, which DDP rejects for CPU modules. When no GPU is
available we therefore initialise a ``gloo`` process group ourselves (mmengine skips its
own set-up when a group already exists) and tell DDP to use no device ids. The model is
wrapped by :class:`~mcl_mm.engine.cpu_sync_bn.CPUDistributedDataParallel`, which turns SyncBN
(GPU-only in torch) into a batch norm synchronised over gloo.
"""
import atexit
import os
import sys

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> bool:
    """Start a gloo process group for ``cfg.launcher == 'pytorch'`` on a machine without CUDA.

    Reads the torchrun environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``) and edits ``cfg`` in place: ``env_cfg.dist_cfg.backend='gloo'`` and a
    ``model_wrapper_cfg`` with ``device_ids=None``.

    Returns:
        True if this function set up the process group, False if there was nothing to do
        (non-distributed launcher, CUDA available, or a group already running).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(
            f"launcher='{launcher}' needs CUDA with mmengine 0.10.7; on a machine without a GPU "
            "use --launcher pytorch (tools/dist_train.sh) which runs on gloo.")
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg')
    if not wrapper:
        wrapper = dict(type='mcl_mm.CPUDistributedDataParallel', broadcast_buffers=False)
        if cfg.get('find_unused_parameters') is not None:  # else DDP's default (False), or
            # True from the configs of the model's parts (mcl_mm.Runner.wrap_model)
            wrapper['find_unused_parameters'] = cfg.find_unused_parameters
    if wrapper.get('type') in (None, 'MMDistributedDataParallel'):
        # SyncBN runs on GPUs only: this wrapper swaps it for a gloo-synchronised BN
        wrapper['type'] = 'mcl_mm.CPUDistributedDataParallel'
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if torch_dist.is_initialized():
        return False
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs the environment torchrun sets ({missing} '
                           'missing): start with tools/dist_train.sh or tools/dist_test.sh')
    torch_dist.init_process_group(
        backend='gloo', rank=int(os.environ['RANK']), world_size=int(os.environ['WORLD_SIZE']))
    # tear the group down together on all ranks before the interpreter exits: a rank that
    # leaves while its peer's gloo threads still talk to it sometimes aborts the peer
    # ('terminate called without an active exception')
    atexit.register(_destroy_process_group)
    # every rank says it (mmengine's logger is silent on ranks > 0)
    print(f'[mcl_mm] no CUDA: started a gloo process group, rank {torch_dist.get_rank()} of '
          f'{torch_dist.get_world_size()}', file=sys.stderr, flush=True)
    return True


def _destroy_process_group() -> None:
    if torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
