from .distill_loss_weight_hook import DistillLossWeightHook
from .rng_state_hook import RNGStateHook

__all__ = ['DistillLossWeightHook', 'RNGStateHook']
