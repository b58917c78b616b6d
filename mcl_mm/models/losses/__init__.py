from .cirkd_loss import CIRKDMemoryLoss, CrossImagePixelLoss, PixelKDLoss
from .mcl_loss import MCLLoss, MutualKDLoss

__all__ = ['PixelKDLoss', 'CrossImagePixelLoss', 'CIRKDMemoryLoss', 'MCLLoss', 'MutualKDLoss']
