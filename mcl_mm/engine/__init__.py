from .checkpoint import allow_mmengine_checkpoint_types
from .dist import setup_cpu_distributed
from .runner_cfg import (add_visualization_args, apply_test_args, apply_train_args, build_runner,
                         parse_tool_args, save_test_metrics)

__all__ = [
    'allow_mmengine_checkpoint_types', 'setup_cpu_distributed', 'apply_train_args',
    'apply_test_args', 'build_runner', 'parse_tool_args', 'add_visualization_args',
    'save_test_metrics'
]
