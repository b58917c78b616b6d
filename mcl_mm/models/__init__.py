from . import backbones, distillers, losses, necks  # noqa: F401
from .builder import build_task_model, resolve_model_cfg
from .member_tta import MemberTTAModel
from .model_group import ModelGroup

__all__ = ['build_task_model', 'resolve_model_cfg', 'MemberTTAModel', 'ModelGroup']
