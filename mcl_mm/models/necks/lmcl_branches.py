"""Layer-wise MCL (L-MCL, Yang et al., TPAMI 2023): auxiliary branches and the stage aggregator.

Both are training-only parts of a cohort member: they live in the cohort, outside the member,
so an exported member is the stock model alone.
"""
import copy
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AuxiliaryBranches(nn.Module):
    """One feature-refinement branch after each backbone stage but the last.

    Branch s is a fresh copy of the stages after stage s (their first ``blocks_per_stage``
    blocks; the L-MCL ImageNet ResNets use one block per copied stage), then global average
    pooling and a linear classifier. The copies are re-initialised, not shared with the
    backbone.

    Args:
        backbone (nn.Module): the member's backbone; ``stages`` name its stage modules (each an
            ``nn.Sequential`` of blocks, e.g. mmdet/mmseg ResNet's ``layer1`` .. ``layer4``).
        stages (list[str]): the backbone's stage names, in order; S = len(stages) >= 2.
        num_classes (int): classes of the auxiliary classifiers.
        blocks_per_stage (int, optional): blocks copied from each later stage; None = all.

    Shapes: ``forward(stage_feats)`` takes the outputs of stages 0..S-2, (B, C_s, H_s, W_s),
    and returns (pooled features, each (B, C_last); logits, each (B, num_classes)).
    """

    def __init__(self, backbone: nn.Module, stages: Sequence[str], num_classes: int,
                 blocks_per_stage: Optional[int] = 1):
        super().__init__()
        if len(stages) < 2:
            raise ValueError(f'model.layerwise.stages must name at least 2 backbone stages, '
                             f'got {list(stages)}')
        modules = []
        for name in stages:
            stage = getattr(backbone, name, None)
            if not isinstance(stage, nn.Sequential):
                raise ValueError(f'model.layerwise.stages: the backbone has no stage {name!r} '
                                 '(an nn.Sequential of blocks)')
            modules.append(stage)
        self.branches = nn.ModuleList()
        for s in range(len(stages) - 1):
            blocks = []
            for stage in modules[s + 1:]:
                blocks.extend(copy.deepcopy(list(stage)[:blocks_per_stage]))
            branch = nn.Sequential(*blocks)
            for m in branch.modules():
                if hasattr(m, 'reset_parameters') and m is not branch:
                    m.reset_parameters()
            self.branches.append(branch)
        self.channels = _out_channels(modules[-1])
        self.classifiers = nn.ModuleList(
            nn.Linear(self.channels, num_classes) for _ in self.branches)

    def forward(self, stage_feats: Sequence[Tensor]):
        if len(stage_feats) != len(self.branches):
            raise ValueError(f'expected {len(self.branches)} stage features, '
                             f'got {len(stage_feats)}')
        feats, logits = [], []
        for x, branch, fc in zip(stage_feats, self.branches, self.classifiers):
            pooled = branch(x).mean(dim=(2, 3))
            feats.append(pooled)
            logits.append(fc(pooled))
        return feats, logits


def _out_channels(stage: nn.Module) -> int:
    """Output channels of a stage of conv blocks: those of its last normalisation layer."""
    norms = [m for m in stage.modules()
             if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm))]
    if not norms:
        raise ValueError('model.layerwise: cannot tell the channels of the last stage (it has '
                         'no normalisation layer)')
    last = norms[-1]
    return last.num_features if hasattr(last, 'num_features') else last.num_channels


class StageAggregator(nn.Module):
    """Fuses a member's stage logits with weights predicted from its stage features.

    ``weights = softmax(Linear(S*C -> C) -> ReLU -> Linear(C -> S))`` on the concatenated pooled
    features; the aggregated logits are ``sum_s weights[:, s] * logits_s``.

    Shapes: ``forward(feats, logits)``: S tensors (B, C) and S tensors (B, K) -> (B, K).
    """

    def __init__(self, channels: int, num_stages: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(num_stages * channels, channels), nn.ReLU(inplace=True),
                                 nn.Linear(channels, num_stages))

    def forward(self, feats: List[Tensor], logits: List[Tensor]) -> Tensor:
        weights = F.softmax(self.mlp(torch.cat(feats, dim=1)), dim=1)
        return sum(weights[:, s:s + 1] * logit for s, logit in enumerate(logits))
