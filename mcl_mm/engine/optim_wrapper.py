"""Mixed precision on CPU.

MMEngine 0.10.7's ``AmpOptimWrapper`` (``--amp``) refuses CPUs ("only available training on
gpu, npu, mlu or musa"), while torch runs CPU autocast in bfloat16. :class:`CPUAmpOptimWrapper`
is MMEngine's ``OptimWrapper`` with the forward pass under ``torch.autocast('cpu',
dtype=bfloat16)``; bfloat16 has float32's exponent range, so no loss scaling is needed.
``tools/train.py --amp`` takes it on a machine without CUDA and MMEngine's AmpOptimWrapper
(float16 with dynamic loss scaling) with CUDA. mcl_mm's losses compute their contrastive and
relational math in float32 (or float64) under autocast, so their kernels keep the precision
they need (``exp(1/0.07)`` overflows float16).
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from mcl_mm.registry import OPTIM_WRAPPERS

_DTYPES = dict(bfloat16=torch.bfloat16, bf16=torch.bfloat16, float16=torch.float16,
               fp16=torch.float16)


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs the forward pass under CPU autocast.

    Args:
        dtype (str): ``'bfloat16'`` (default) or ``'float16'``.
        **kwargs: as :class:`mmengine.optim.OptimWrapper` (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs):
        if dtype not in _DTYPES:
            raise ValueError(f'optim_wrapper.dtype must be one of {sorted(_DTYPES)}, got '
                             f'{dtype!r}')
        super().__init__(**kwargs)
        self.cast_dtype = _DTYPES[dtype]

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(device_type='cpu',
                                                          dtype=self.cast_dtype):
            yield
