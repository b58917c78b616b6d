from .lmcl_branches import AuxiliaryBranches, StageAggregator

__all__ = ['AuxiliaryBranches', 'StageAggregator']
