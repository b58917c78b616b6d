"""mmpose's keypoint painter for NumPy 2.4 and later.

mmpose 1.3.2's ``PoseLocalVisualizer`` draws each keypoint with
``draw_circles(kpt, radius=np.array([self.radius]), ...)``, and its OpenCV backend calls
``int(radius)`` on that one-element array: NumPy 2.4 removed that conversion (deprecated
since 1.25), so painting any keypoint raises ``TypeError: only 0-dimensional arrays can be
converted to Python scalars``. That stops ``tools/test.py --show-dir`` / ``--show`` /
``--badcase`` and a validation hook that paints, at the first image with a keypoint above
the score threshold (mmpose's own tools the same way). This subclass hands the OpenCV
backend the radius as a number; everything else is mmpose's. mcl_mm's tools put it in place
of ``PoseLocalVisualizer`` in mmpose configs where NumPy refuses the conversion
(:func:`numpy_refuses_array_to_int`); a config may name it directly,
``visualizer=dict(type='mcl_mm.PoseLocalVisualizer', ...)``.
"""
import numpy as np
from mmpose.visualization import PoseLocalVisualizer as MMPosePoseLocalVisualizer

from mcl_mm.registry import VISUALIZERS


def numpy_refuses_array_to_int() -> bool:
    """Whether ``int(np.array([1]))`` raises (NumPy >= 2.4)."""
    try:
        int(np.array([1]))
    except TypeError:
        return True
    return False


@VISUALIZERS.register_module()
class PoseLocalVisualizer(MMPosePoseLocalVisualizer):
    """mmpose's ``PoseLocalVisualizer`` (same arguments) whose OpenCV backend gets one-element
    radius arrays as numbers."""

    def draw_circles(self, center, radius, face_colors='none', alpha: float = 1.0, **kwargs):
        if self.backend == 'opencv':
            radius = np.asarray(radius).reshape(-1)
            if radius.size != 1:
                raise ValueError(f'the OpenCV backend draws one circle per call, got '
                                 f'{radius.size} radii')
            radius = float(radius[0])
        return super().draw_circles(center, radius, face_colors=face_colors, alpha=alpha,
                                    **kwargs)
