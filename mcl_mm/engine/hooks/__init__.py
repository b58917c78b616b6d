from .consistency_check_hook import ConsistencyCheckHook
from .distill_loss_weight_hook import DistillLossWeightHook
from .finite_loss_hook import FiniteLossHook
from .rng_state_hook import RNGStateHook

__all__ = ['ConsistencyCheckHook', 'DistillLossWeightHook', 'FiniteLossHook', 'RNGStateHook']
