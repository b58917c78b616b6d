"""mcl_mm's data structures: ``ClsDataSample`` for its minimal image classifier."""
from .cls_data_sample import ClsDataSample

__all__ = ['ClsDataSample']
