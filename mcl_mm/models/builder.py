"""Build stock mmseg / mmdet / mmpose models from a model dict or from another config file."""
from copy import deepcopy
from typing import Union

from mmengine.config import Config, ConfigDict
from mmengine.config.utils import _get_external_cfg_base_path, _get_package_and_cfg_path
from mmengine.model import BaseModel
from mmengine.utils import get_installed_path

from mcl_mm.registry import MODELS


def load_config(path: str) -> Config:
    """``Config.fromfile`` that also takes ``package::relative/path.py`` (a toolbox's configs).

    (``mmengine.hub.get_config`` does this too, but it pip-installs a missing package and
    looks the name up in the model index first; here the file is read where it is.)
    """
    if '::' in path:
        package, relative = _get_package_and_cfg_path(path)
        path = _get_external_cfg_base_path(get_installed_path(package), relative)
    return Config.fromfile(path)


def resolve_model_cfg(cfg: Union[dict, ConfigDict], key: str = 'model') -> ConfigDict:
    """Return a model config, reading it from ``cfg['cfg_path']`` if one is given.

    Args:
        cfg: either a model dict (``dict(type='EncoderDecoder', ...)``), built in the current
            default scope, or ``dict(cfg_path=PATH, **overrides)`` where ``PATH`` is a config
            file (``'mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py'`` or
            a local path). Its ``model`` is taken (with the config's top-level
            ``data_preprocessor`` where the model has none, as MMEngine's Runner fills it:
            mmpretrain configs give it only there), ``overrides`` are merged into it, and it
            is built in that config's ``default_scope`` (so an mmseg config path works from
            any scope).
        key: the config key this dict came from, used in error messages.
    """
    cfg = ConfigDict(deepcopy(dict(cfg)))
    if 'cfg_path' not in cfg:
        if 'type' not in cfg:
            raise ValueError(f"{key} must be a model dict with 'type' or dict(cfg_path=...), "
                             f'got keys {sorted(cfg)}')
        return cfg
    path = cfg.pop('cfg_path')
    try:
        other = load_config(path)
    except (FileNotFoundError, OSError) as e:
        raise FileNotFoundError(f'{key}.cfg_path: cannot read config {path!r}: {e}') from e
    if 'model' not in other:
        raise ValueError(f'{key}.cfg_path: config {path!r} has no `model`')
    model = other.model
    if 'data_preprocessor' not in model and other.get('data_preprocessor') is not None:
        # as MMEngine's Runner builds that config's model (mmpretrain configs give it only
        # at the top level)
        model['data_preprocessor'] = deepcopy(other.data_preprocessor)
    model = Config._merge_a_into_b(cfg, model)
    if other.get('default_scope') and '_scope_' not in model:
        model['_scope_'] = other.default_scope
    return model


def build_task_model(cfg: Union[dict, ConfigDict], key: str = 'model') -> BaseModel:
    """Build a stock model (see :func:`resolve_model_cfg` for the accepted forms)."""
    return MODELS.build(resolve_model_cfg(cfg, key))


@MODELS.register_module(name='StockModel')
def stock_model(cfg_path: str, **overrides) -> BaseModel:
    """``dict(type='mcl_mm.StockModel', cfg_path=CONFIG, **overrides)``: the stock model of
    another config (e.g. ``'mmpose::body_2d_keypoint/topdown_heatmap/coco/
    td-hm_hrnet-w32_8xb64-210e_coco-256x192.py'``) with ``overrides`` merged in, built in that
    config's scope. The result is the toolbox's own model class, so its checkpoints are stock
    checkpoints; a method config that needs "any model of the toolbox, changed a little" (the
    HSJP pretext: K pseudo-keypoints, no ImageNet initialisation) names its model this way and
    a user swaps the architecture by changing ``cfg_path`` alone."""
    return build_task_model(dict(cfg_path=cfg_path, **overrides), 'model')
