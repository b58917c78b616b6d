"""Let ``mmpose.visualization`` import where torchvision cannot be loaded.

mmpose 1.3.2's ``mmpose/visualization/simcc_vis.py`` runs
``from torchvision.transforms import ToPILImage`` at import time, so every mmpose training
run (which builds ``PoseLocalVisualizer``) needs torchvision. On CPU-only machines the
registry's torchvision wheels link ``libtorch_cuda.so`` and do not load. When torchvision
is unavailable we import ``mmpose.visualization`` once with a stand-in module that offers
only ``ToPILImage`` (all simcc_vis uses), then remove the stand-in from ``sys.modules`` so no
other code sees a fake torchvision.
"""
import importlib
import sys
import types

import numpy as np


class ToPILImage:
    """``torchvision.transforms.ToPILImage`` for a (C, H, W) float tensor in [0, 1] or uint8."""

    def __call__(self, pic):
        from PIL import Image
        array = pic.detach().cpu().numpy() if hasattr(pic, 'detach') else np.asarray(pic)
        if array.ndim == 3:
            array = array.transpose(1, 2, 0)
            if array.shape[2] == 1:
                array = array[..., 0]
        if array.dtype != np.uint8:
            array = (array * 255).clip(0, 255).astype(np.uint8)
        return Image.fromarray(array)


def _torchvision_loads() -> bool:
    try:
        importlib.import_module('torchvision')
        return True
    except (ImportError, OSError):
        return False


def import_mmpose_visualization() -> None:
    """Import ``mmpose.visualization``, with the ToPILImage stand-in if torchvision is missing."""
    if importlib.util.find_spec('mmpose') is None or 'mmpose.visualization' in sys.modules:
        return
    if _torchvision_loads():
        return
    for name in [n for n in sys.modules if n == 'torchvision' or n.startswith('torchvision.')]:
        del sys.modules[name]  # a half-imported broken torchvision
    fake = types.ModuleType('torchvision')
    fake.transforms = types.ModuleType('torchvision.transforms')
    fake.transforms.ToPILImage = ToPILImage
    sys.modules['torchvision'], sys.modules['torchvision.transforms'] = fake, fake.transforms
    try:
        importlib.import_module('mmpose.visualization')
    finally:
        del sys.modules['torchvision'], sys.modules['torchvision.transforms']
