from .cirkd_loss import CIRKDMemoryLoss, CrossImagePixelLoss, PixelKDLoss

__all__ = ['PixelKDLoss', 'CrossImagePixelLoss', 'CIRKDMemoryLoss']
