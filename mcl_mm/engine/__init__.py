from .checkpoint import allow_mmengine_checkpoint_types
from .dist import setup_cpu_distributed
from .runner_cfg import apply_test_args, apply_train_args, build_runner, parse_tool_args

__all__ = [
    'allow_mmengine_checkpoint_types', 'setup_cpu_distributed', 'apply_train_args',
    'apply_test_args', 'build_runner', 'parse_tool_args'
]
