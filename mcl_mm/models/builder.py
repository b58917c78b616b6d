"""Build stock mmseg / mmdet / mmpose models from a model dict or from another config file."""
from copy import deepcopy
from typing import List, Optional, Union

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


def resolve_model_cfg(cfg: Union[dict, ConfigDict], key: str = 'model',
                      unused_from: Optional[List[str]] = None) -> ConfigDict:
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
        unused_from: when given, ``'KEY (PATH)'`` is appended to it if that config sets
            ``find_unused_parameters=True`` (the model leaves parameters out of its loss, so
            DDP needs it: :class:`mcl_mm.engine.runner.Runner` carries it over).
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
    if unused_from is not None and other.get('find_unused_parameters'):
        unused_from.append(f'{key} ({path})')
    if other.get('default_scope') and '_scope_' not in model:
        model['_scope_'] = other.default_scope
    return model


def replaced_types(overrides: dict, stock: dict, key: str) -> List[str]:
    """Where ``overrides`` gives a dict a ``type`` other than the stock dict's there without
    ``_delete_``: the config merge then keeps the stock dict's other keys for the new type
    (mmengine's rule, right for ``norm_cfg=dict(type='BN')`` over SyncBN, wrong for a codec
    of another kind). One line per place: ``key.path: type 'A' replaces the stock 'B' and
    keeps its k1, k2``."""
    found = []
    for name, value in overrides.items():
        old = stock.get(name) if isinstance(stock, dict) else None
        if not (isinstance(value, dict) and isinstance(old, dict)) or value.get('_delete_'):
            continue
        path = f'{key}.{name}'
        if 'type' in value and 'type' in old and value['type'] != old['type']:
            kept = sorted(k for k in old if k not in value and k != 'type')
            if kept:
                found.append(f"{path}: type {value['type']!r} replaces the stock "
                             f"{old['type']!r} and keeps its {', '.join(kept)}")
        found += replaced_types(value, old, path)
    return found


def build_task_model(cfg: Union[dict, ConfigDict], key: str = 'model',
                     unused_from: Optional[List[str]] = None) -> BaseModel:
    """Build a stock model (see :func:`resolve_model_cfg` for the accepted forms and
    ``unused_from``).

    A ``TypeError`` of the build (an unexpected keyword) names the overrides that gave a
    stock dict another ``type`` without ``_delete_=True``, the usual cause."""
    model_cfg = resolve_model_cfg(cfg, key, unused_from)
    try:
        return MODELS.build(model_cfg)
    except TypeError as e:
        if 'cfg_path' not in cfg:
            raise
        overrides = {k: v for k, v in dict(cfg).items() if k != 'cfg_path'}
        found = replaced_types(overrides, load_config(cfg['cfg_path']).model, key)
        if not found:
            raise
        raise TypeError(f"{e}\n{'; '.join(found)} (of {cfg['cfg_path']}): give the whole "
                        'dict with _delete_=True, or the keys its type takes') from e


# overrides that leave the stock pose model's output grid and output layer as they are
_GRID_KEEPING = dict(backbone={'init_cfg', 'pretrained'},
                     head={'out_channels', 'decoder', 'loss', 'init_cfg'})


def check_pose_head(overrides: dict, stock: dict, cfg_path: str, key: str = 'model') -> None:
    """A pose head given other keypoints over the stock one (the HSJP pretext's K cells) must
    be able to predict them: its codec must ask for heatmaps of the size the stock head
    predicts (the stock ``heatmap_size`` at the stock ``input_size``, or at the stock's
    integer stride for another input: CPM predicts at 1/8, SimpleBaseline at 1/4), and a new
    ``out_channels`` needs a head with an output layer of its own (CPM's has none: its
    backbone predicts the keypoints). Else the loss would compare tensors of two sizes deep
    inside the head. Checked only where the overrides keep the stock grid (``backbone``:
    init_cfg/pretrained; ``head``: out_channels/decoder/loss/init_cfg; no ``neck``): other
    overrides may change what the stock model predicts.

    Raises:
        ValueError: naming ``{key}.head.decoder.heatmap_size`` or ``{key}.head.out_channels``
            and what the stock model needs.
    """
    if 'neck' in overrides or any(
            not set(overrides.get(part) or {}) <= keys for part, keys in _GRID_KEEPING.items()):
        return
    head, stock_head = overrides.get('head') or {}, stock.get('head') or {}
    if 'out_channels' in head and 'final_layer' in stock_head and \
            stock_head['final_layer'] is None and \
            head['out_channels'] != stock_head.get('out_channels'):
        raise ValueError(
            f"{key}.head.out_channels={head['out_channels']}, but the stock "
            f"{stock_head.get('type')} of {cfg_path} has final_layer=None: it passes on the "
            f"{stock_head.get('out_channels')} maps its input has (the backbone predicts the "
            'keypoints); set the keypoint count where that model makes it (its backbone\'s '
            'out_channels and the head\'s in_channels, or a final_layer)')
    new, old = head.get('decoder'), stock_head.get('decoder')
    if not all(isinstance(d, dict) and 'input_size' in d and 'heatmap_size' in d
               for d in (new, old)):
        return
    size_in, size_out = tuple(new['input_size']), tuple(new['heatmap_size'])
    stock_in, stock_out = tuple(old['input_size']), tuple(old['heatmap_size'])
    if size_in == stock_in:
        expected = stock_out
    else:
        strides = {i / o for i, o in zip(stock_in, stock_out)}
        stride = strides.pop()
        if strides or not stride.is_integer() or any(i % stride for i in size_in):
            return  # no one integer stride (AlexNet: 40x56 at 192x256): nothing to scale by
        expected = tuple(i // int(stride) for i in size_in)
    if size_out != expected:
        raise ValueError(
            f'{key}.head.decoder.heatmap_size={size_out} at input_size {size_in}, but the stock '
            f'head of {cfg_path} predicts {stock_out} heatmaps at input_size {stock_in}: expected '
            f'heatmap_size={expected} (the codec the head and GenerateTarget share)')


@MODELS.register_module(name='StockModel')
def stock_model(cfg_path: str, **overrides) -> BaseModel:
    """``dict(type='mcl_mm.StockModel', cfg_path=CONFIG, **overrides)``: the stock model of
    another config (e.g. ``'mmpose::body_2d_keypoint/topdown_heatmap/coco/
    td-hm_hrnet-w32_8xb64-210e_coco-256x192.py'``) with ``overrides`` merged in, built in that
    config's scope. The result is the toolbox's own model class, so its checkpoints are stock
    checkpoints; a method config that needs "any model of the toolbox, changed a little" (the
    HSJP pretext: K pseudo-keypoints, no ImageNet initialisation) names its model this way and
    a user swaps the architecture by changing ``cfg_path`` alone."""
    check_pose_head(overrides, load_config(cfg_path).model, cfg_path)
    unused_from = []
    model = build_task_model(dict(cfg_path=cfg_path, **overrides), 'model', unused_from)
    if unused_from:  # read by mcl_mm.engine.runner.Runner
        model.unused_parameters_from = unused_from
    return model
