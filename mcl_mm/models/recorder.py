"""Record what a module takes or gives, by the module's name (as MMRazor's recorders), so that
distillers and cohorts read intermediate tensors of any architecture by config.

A recorder is configured as ``dict(module=NAME, io='output', index=None, transform=None)``:

* ``module``: the name in ``model.named_modules()``, e.g. ``'decode_head.conv_seg'``;
* ``io``: ``'output'`` (what the module returns) or ``'input'`` (its first positional input);
* ``index``: for a module that returns (or takes) a tuple or list, the element to keep
  (e.g. ``-1``: the last stage of K-Net's stage logits, the last backbone stage), or a list of
  indices for nested outputs (``[-1, 0]``: the class token of a distilled DeiT's last stage,
  which gives (cls_token, dist_token)); a tensor is kept as it is (a K-Net head returns the
  list in training and the last tensor in eval mode);
* ``transform``: a name in :data:`TRANSFORMS`, applied after ``index``:
  ``'query_seg_logits'`` turns a query-based head's ``(cls_scores, mask_preds)`` (MaskFormer,
  Mask2Former) into per-pixel class log-scores (B, K, h, w), as mmseg's ``predict`` computes
  the scores.

The module's ``forward`` is wrapped on the instance (rather than a forward hook), because
toolboxes call some heads' ``forward`` directly (``decode_head.forward(x)`` in mmseg's
segmentors), which hooks do not see.
"""
import difflib
from typing import Any, Callable, Dict, Optional

import torch
from torch import Tensor, nn

RECORDER_KEYS = ('module', 'io', 'index', 'transform')


def query_seg_logits(output) -> Tensor:
    """Per-pixel class log-scores of a query-based segmentation head.

    Args:
        output: the head's ``forward`` output ``(cls_scores, mask_preds)``: per decoder layer
            (a list, or a stacked tensor), (B, Q, K + 1) class logits (the last class is "no
            object") and (B, Q, h, w) mask logits. The last layer is used.

    Returns:
        Tensor: (B, K, h, w) ``log(sum_q softmax(cls_q)[:K] * sigmoid(mask_q))``, float32: the
        log of the scores mmseg's ``Mask2FormerHead.predict`` / ``MaskFormerHead.predict``
        compute, so ``softmax`` over K gives the per-pixel class distribution of the
        prediction (its argmax is mmseg's).
    """
    if not (isinstance(output, (tuple, list)) and len(output) == 2):
        raise ValueError("transform='query_seg_logits' needs a head that returns "
                         '(cls_scores, mask_preds) (MaskFormer, Mask2Former), got '
                         f'{type(output).__name__}')
    cls_scores, mask_preds = output[0][-1], output[1][-1]
    with torch.autocast(device_type=mask_preds.device.type, enabled=False):
        probs = cls_scores.float().softmax(-1)[..., :-1]
        scores = torch.einsum('bqc,bqhw->bchw', probs, mask_preds.float().sigmoid())
    return scores.clamp_min(1e-6).log()


TRANSFORMS: Dict[str, Callable[[Any], Tensor]] = dict(query_seg_logits=query_seg_logits)


def _module_hint(modules: Dict[str, nn.Module], name: str) -> str:
    """Where to look when ``name`` names no module: cascade and query-based heads."""
    head = name.split('.')[0]
    if isinstance(modules.get(head), nn.ModuleList):
        return (f' ({head} is a list of heads, e.g. a cascade segmentor: name one of them, '
                f"e.g. '{head}.{len(modules[head]) - 1}.{name.split('.', 1)[-1]}')")
    if name.endswith('conv_seg') and head in modules and not hasattr(modules[head], 'conv_seg'):
        return (f" ({head} has no conv_seg, e.g. a query-based head: record '{head}' with "
                "transform='query_seg_logits' for logits, a pixel decoder's output for "
                'features)')
    return ''


class _RecordingForward:
    """The wrapped ``forward`` of a recorded module: calls the original, then records.

    An object (not a closure) so that ``copy.deepcopy`` of the model (EMA hooks do it) wraps
    the copied module and records into a copied recorder.
    """

    def __init__(self, module: nn.Module, recorder: 'ModuleRecorder'):
        self.module = module
        self.recorder = recorder
        # a forward already wrapped by another recorder is chained
        self.previous = module.__dict__.get('forward')

    def __call__(self, *args, **kwargs):
        if self.previous is not None:
            output = self.previous(*args, **kwargs)
        else:
            output = type(self.module).forward(self.module, *args, **kwargs)
        self.recorder.record(args, output)
        return output


class ModuleRecorder:
    """Keeps the latest input or output of a module (see the module docstring for the config).

    Args:
        model (nn.Module): the model that holds the module.
        cfg (dict): ``dict(module=NAME, io='output', index=None, transform=None)``; other keys
            listed in ``ignore`` (e.g. a distiller's ``source``) are allowed.
        key (str): the config key, for error messages.
        ignore (tuple): keys of ``cfg`` that belong to the caller.
    """

    def __init__(self, model: nn.Module, cfg: dict, key: str, ignore: tuple = ()):
        if not isinstance(cfg, dict) or 'module' not in cfg:
            raise ValueError(f"{key} must be a dict with 'module' (a module name), got {cfg!r}")
        unknown = sorted(set(cfg) - set(RECORDER_KEYS) - set(ignore))
        if unknown:
            raise ValueError(f'{key} has unknown keys {unknown}; a recorder takes '
                             f'{list(RECORDER_KEYS) + list(ignore)}')
        name = cfg['module']
        modules = dict(model.named_modules())
        if name not in modules:
            close = difflib.get_close_matches(name, list(modules), n=5, cutoff=0.5)
            raise ValueError(f'{key}.module: no module named {name!r}; close matches: {close}'
                             f'{_module_hint(modules, name)}')
        self.io = cfg.get('io', 'output')
        if self.io not in ('input', 'output'):
            raise ValueError(f"{key}.io must be 'input' or 'output', got {self.io!r}")
        index = cfg.get('index')
        if not (index is None or isinstance(index, int) or (
                isinstance(index, (list, tuple)) and index
                and all(isinstance(i, int) for i in index))):
            raise ValueError(f'{key}.index must be an int or a list of ints (nested outputs), '
                             f'got {index!r}')
        self.index: Optional[tuple] = None if index is None else (
            (index, ) if isinstance(index, int) else tuple(index))
        transform = cfg.get('transform')
        if transform is not None and transform not in TRANSFORMS:
            raise ValueError(f'{key}.transform must be one of {sorted(TRANSFORMS)}, got '
                             f'{transform!r}')
        self.transform = None if transform is None else TRANSFORMS[transform]
        self.name, self.key = name, key
        self.module = modules[name]
        self.data: Any = None
        self.module.forward = _RecordingForward(self.module, self)

    def record(self, args: tuple, output: Any) -> None:
        self.data = args[0] if self.io == 'input' else output

    def get(self) -> Any:
        """The recorded value after ``index`` and ``transform``; an error naming the key if
        the module saw no forward pass since the last :meth:`clear`."""
        if self.data is None:
            raise RuntimeError(f'{self.key}: module {self.name!r} saw no forward pass in this '
                               'step (it is not used by the forward of its model)')
        value = self.data
        for i in self.index or ():
            if not isinstance(value, (tuple, list)):
                break
            value = value[i]
        if self.transform is not None:
            value = self.transform(value)
        elif isinstance(value, (tuple, list)):
            raise ValueError(
                f'{self.key}: module {self.name!r} gives a {type(value).__name__} of '
                f'{len(value)}' + (f' after index {list(self.index)}' if self.index else '')
                + f'; set {self.key}.index to the element to use (a list of indices for nested '
                'outputs, e.g. [-1, 0])')
        return value

    def clear(self) -> None:
        self.data = None

    def channels(self) -> Optional[int]:
        """The channels of the recorded tensor when the module says them (a convolution or a
        linear layer, without index or transform), else None."""
        if self.index is not None or self.transform is not None:
            return None
        m = self.module
        if isinstance(m, nn.modules.conv._ConvNd):
            return m.in_channels if self.io == 'input' else m.out_channels
        if isinstance(m, nn.Linear):
            return m.in_features if self.io == 'input' else m.out_features
        return None
