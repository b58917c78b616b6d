from .consistency_check_hook import ConsistencyCheckHook
from .dataset_check_hook import DatasetCheckHook
from .distill_loss_weight_hook import DistillLossWeightHook
from .finite_loss_hook import FiniteLossHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'ConsistencyCheckHook', 'DatasetCheckHook', 'DistillLossWeightHook', 'FiniteLossHook',
    'RNGStateHook'
]
