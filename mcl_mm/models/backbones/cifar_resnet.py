"""The CIFAR ResNet of He et al. (2016), section 4.2, as the MCL paper's CIFAR-100 backbones.

mmpretrain's ``ResNet_CIFAR`` is another network (four stages of 64..512 channels, the
``kuangliu/pytorch-cifar`` variant); this is the classic 16/32/64-channel one, built from
mmpretrain's ``ResNet`` and its blocks.
"""
from typing import Sequence

from mmcv.cnn import build_conv_layer, build_norm_layer
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck, ResNet
from torch import nn

from mcl_mm.registry import MODELS

BLOCKS = {'basic': BasicBlock, 'bottleneck': Bottleneck}
BLOCK_LAYERS = {'basic': 2, 'bottleneck': 3}  # weighted layers per block


@MODELS.register_module()
class CIFARResNet(ResNet):
    """ResNet-20/32/44/56/110 for 32x32 images: a 3x3 stem (16 channels, stride 1, no max
    pool) and three stages of ``n = (depth - 2) / 6`` BasicBlocks with 16, 32 and 64 channels
    (strides 1, 2, 2).

    It is mmpretrain's ``ResNet`` with the stem and stage layout of the CIFAR networks, so it
    has the same modules and state-dict keys (``conv1``, ``bn1``, ``layer1..layer3``,
    ``res_layers = ['layer1', 'layer2', 'layer3']``, 1x1-conv + BN ``downsample`` of the first
    block of stages 2 and 3, as in the MCL code's ``models/resnet.py``), and the same options
    (``norm_cfg``, ``frozen_stages``, ``norm_eval``, ``with_cp``, ``drop_path_rate``, ...).
    Kaiming-normal (fan_out) conv and unit BN initialisation (mmpretrain's ``ResNet``
    ``init_cfg``), as in the reference; ``zero_init_residual`` defaults to False, as there
    (mmpretrain's ``ResNet`` defaults to True).

    ``block='bottleneck'`` builds ``n = (depth - 2) / 9`` Bottlenecks (expansion 4: 64, 128,
    256 output channels) per stage; note that the MCL code's ``resnet110`` is this variant
    (``[12, 12, 12]`` Bottlenecks), while He et al.'s ResNet-110 is ``block='basic'``.

    In a config (``default_scope='mmpretrain'``, ``custom_imports=dict(imports=['mcl_mm'])``):
    ``backbone=dict(type='mcl_mm.CIFARResNet', depth=32)`` inside mmpretrain's
    ``ImageClassifier``, with ``neck=dict(type='GlobalAveragePooling')`` and a
    ``LinearClsHead`` of ``in_channels=64``.

    Args:
        depth (int): 20, 32, 44, 56 or 110 for ``block='basic'``; ``9n + 2`` for
            ``block='bottleneck'`` (e.g. 110).
        block (str): ``'basic'`` or ``'bottleneck'``.
        out_indices (Sequence[int]): stages whose outputs are returned; default ``(2,)``, the
            last stage, (B, 64, H/4, W/4) for BasicBlocks.
        base_channels (int): channels of the first stage (and of the stem); 16.
        zero_init_residual (bool): zero the last BN of each block; default False.
        **kwargs: other mmpretrain ``ResNet`` arguments.

    ``forward(x)``: x (B, 3, H, W) -> tuple of (B, C_i, H_i, W_i) for ``out_indices``.
    """
    DEPTHS = (20, 32, 44, 56, 110)

    def __init__(self,
                 depth: int = 32,
                 block: str = 'basic',
                 out_indices: Sequence[int] = (2, ),
                 base_channels: int = 16,
                 zero_init_residual: bool = False,
                 **kwargs) -> None:
        if block not in BLOCKS:
            raise ValueError(f'CIFARResNet block={block!r}: expected one of {sorted(BLOCKS)}')
        per_block = 3 * BLOCK_LAYERS[block]
        if block == 'basic' and depth not in self.DEPTHS:
            raise ValueError(f'CIFARResNet depth={depth!r}: expected one of {self.DEPTHS} '
                             f'(6n + 2) for BasicBlocks')
        if block == 'bottleneck' and (not isinstance(depth, int) or depth < 11
                                      or (depth - 2) % per_block):
            raise ValueError(f'CIFARResNet depth={depth!r}: expected 9n + 2 (e.g. 110) for '
                             f'Bottlenecks')
        for key in ('num_stages', 'strides', 'dilations', 'deep_stem', 'stem_channels'):
            if key in kwargs:
                raise ValueError(f'CIFARResNet sets {key} itself; remove it from the config')
        out_indices = tuple(out_indices)
        if not out_indices or not all(i in (0, 1, 2) for i in out_indices):
            raise ValueError(f'CIFARResNet out_indices={out_indices!r}: expected stage '
                             f'indices among 0, 1, 2')
        n = (depth - 2) // per_block
        # read by ResNet.__init__ instead of the class's ImageNet depths
        self.arch_settings = {depth: (BLOCKS[block], (n, n, n))}
        super().__init__(
            depth=depth,
            stem_channels=base_channels,
            base_channels=base_channels,
            num_stages=3,
            strides=(1, 2, 2),
            dilations=(1, 1, 1),
            out_indices=out_indices,
            zero_init_residual=zero_init_residual,
            **kwargs)
        self.block_type = block

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        """conv1 3x3 (stride 1) -> bn1 -> relu; no max pool."""
        self.conv1 = build_conv_layer(
            self.conv_cfg, in_channels, stem_channels, kernel_size=3, stride=1, padding=1,
            bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
