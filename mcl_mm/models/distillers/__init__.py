from .mcl_cohort import MCLCohort
from .seg_distiller import SegDistiller

__all__ = ['MCLCohort', 'SegDistiller']
