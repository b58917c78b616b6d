from .pose_local_visualizer import PoseLocalVisualizer, numpy_refuses_array_to_int

__all__ = ['PoseLocalVisualizer', 'numpy_refuses_array_to_int']
