"""Teacher-student distillation for MMSegmentation segmentors.

One file, one path: batch -> student (its own losses) -> frozen teacher -> recorded
intermediate outputs -> aligned to one grid -> distillation losses -> log. Intermediate
outputs are taken by module name (:mod:`mcl_mm.models.recorder`, as MMRazor's recorders), so
any mmseg architecture plugs in by config.
"""
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel, revert_sync_batchnorm
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

from mcl_mm.engine.downloads import is_address
from mcl_mm.registry import MODELS

from ..align import align_tensors, check_align, common_extent
from ..builder import resolve_model_cfg
from ..errors import check_init_model_keys, config_key, infer_channels
from ..multi_model_preprocessor import PerModelBatch, composite_preprocessor
from ..recorder import ModuleRecorder

# a loss input that is not a recorder: the (B, H, W) labels of the batch
GT_SEM_SEG = 'gt_sem_seg'
SOURCES = ('student', 'teacher')


def load_teacher_checkpoint(teacher: nn.Module, path: str) -> None:
    """Load ``path`` into ``teacher`` strictly; a missing file or mismatched keys is an error
    that names the file and the keys (``model.teacher_ckpt``).

    ``path`` is a local file or an address MMEngine's checkpoint loader reads
    (``https://download.openmmlab.com/...``, ``open-mmlab://...``): downloaded once into torch's
    hub cache and read from there afterwards (:mod:`mcl_mm.engine.downloads`).
    """
    if is_address(path):
        try:
            ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        except FileNotFoundError as e:
            raise FileNotFoundError(f'model.teacher_ckpt: {e}') from e
    elif not osp.isfile(path):
        raise FileNotFoundError(
            f'model.teacher_ckpt: no file {path!r}. Put the teacher checkpoint there (see the '
            'config header for where it comes from), or set model.teacher_ckpt=None and '
            'model.random_teacher=True to distil from a randomly initialised teacher (tests).')
    else:
        try:
            ckpt = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:
            raise ValueError(f'model.teacher_ckpt {path!r} cannot be read as a checkpoint '
                             f'({type(e).__name__}: {e})') from e
    if not isinstance(ckpt, dict):
        raise ValueError(f'model.teacher_ckpt {path!r} holds a {type(ckpt).__name__}, expected '
                         'a state dict or a checkpoint with a state_dict')
    state = ckpt.get('state_dict', ckpt)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    expected = teacher.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}'
                    for k, v in expected.items() if k in state and state[k].shape != v.shape)
    if missing or unexpected or shapes:
        def show(keys):
            return f'{keys[:10]}{" ..." if len(keys) > 10 else ""} ({len(keys)})'
        raise ValueError(
            f'model.teacher_ckpt {path!r} does not match model.teacher: missing keys '
            f'{show(missing)}, unexpected keys {show(unexpected)}, '
            f'shape mismatches {show(shapes)}')
    teacher.load_state_dict(state)


_PRECISIONS = dict(bfloat16=torch.bfloat16, float16=torch.float16)


def _teacher_precision(cfg: Optional[dict]):
    """(autocast dtype or None, channels_last) from ``model.teacher_precision``."""
    cfg = dict(cfg or {})
    dtype = cfg.pop('dtype', None)
    channels_last = bool(cfg.pop('channels_last', False))
    if cfg:
        raise ValueError(f'model.teacher_precision has unknown keys {sorted(cfg)}; it takes '
                         "dtype and channels_last")
    if dtype is not None and dtype not in _PRECISIONS:
        raise ValueError(f'model.teacher_precision.dtype must be None or one of '
                         f'{sorted(_PRECISIONS)}, got {dtype!r}')
    return (None if dtype is None else _PRECISIONS[dtype]), channels_last


@MODELS.register_module()
class SegDistiller(BaseModel):
    """A student segmentor trained with distillation losses from a frozen teacher segmentor.

    mmseg's loops, metrics, TTA and visualiser treat it as the student: ``predict``,
    ``tensor`` and ``test_step`` run the student only, and attributes the distiller does not
    have (``decode_head``, ``num_classes``, ``align_corners``, ...) are the student's. In
    ``loss`` mode it returns the student's own losses plus each distillation loss under its
    config key (a loss that returns a dict is logged as ``{key}_{name}``), scaled by
    ``distill_weight_scale`` (1 unless a
    :class:`~mcl_mm.engine.hooks.DistillLossWeightHook` ramps or stops it).

    The teacher is frozen: its parameters have ``requires_grad=False``, it runs under
    ``no_grad`` in eval mode, and it is kept outside the module tree, so it stays in eval
    mode after ``model.train()``, has no parameters in the optimizer and is not saved in the
    distiller's checkpoints (it is loaded from ``teacher_ckpt`` when the model is built). It
    runs its whole-image inference forward (``encode_decode``), which every mmseg segmentor
    has (query-based and cascade heads included).

    Each model sees the batch through its own data preprocessor (one pass when they are
    equal; :mod:`mcl_mm.models.multi_model_preprocessor`), and the recorded tensors a loss
    compares are brought onto one grid (``align``; :mod:`mcl_mm.models.align`), so a 1/4
    student (SegFormer, UPerNet) distils from a 1/8 teacher and the reverse.

    Args:
        teacher (dict): mmseg model config, inline or ``dict(cfg_path=..., **overrides)``.
        student (dict): the same for the student.
        teacher_ckpt (str, optional): checkpoint loaded strictly into the teacher.
        random_teacher (bool): must be True to allow ``teacher_ckpt=None`` (tests only).
        recorders (dict): ``name -> dict(source='student'|'teacher', module=NAME,
            io='input'|'output', index=None, transform=None)``, e.g. ``s_feat=dict(
            source='student', module='decode_head.conv_seg', io='input')`` is the student
            head's post-dropout feature (B, C, h, w) and ``io='output'`` its logits
            (B, K, h, w).
        distill_losses (dict): ``key -> loss config`` with an ``inputs`` dict mapping the
            loss's forward arguments to recorder names or ``'gt_sem_seg'`` (the batch labels,
            (B, H, W) long), e.g. ``loss_kd=dict(type='mcl_mm.PixelKDLoss',
            inputs=dict(preds_S='s_logits', preds_T='t_logits'))``. A loss that declares
            ``channel_args`` (the memory loss's ``student_channels``/``teacher_channels``)
            gets them from the recorded modules when the config leaves them out.
        align (str | int): grid of the tensors each loss compares: 'smaller' (default),
            'larger', 'student', 'teacher' or an output stride.
        teacher_precision (dict, optional): how the frozen teacher runs:
            ``dict(dtype=None | 'bfloat16' | 'float16', channels_last=False)``: its forward
            under autocast of that dtype (the input device's), its weights and input in
            channels-last memory format. The tensors recorded from it reach the losses in
            float32. Default: float32, contiguous (the reference). bfloat16 pays off on CPUs
            with native bfloat16 (AVX512-BF16, AMX) and on GPUs; on AVX2-only CPUs it is
            emulated and much slower (``tools/benchmark_cirkd_iteration.py`` measures it).
        data_preprocessor (dict, optional): one preprocessor for both models; it must equal
            each one's own (default: each model uses its own).
        init_cfg (dict, optional): MMEngine initialisation config.
        pretrained, train_cfg: None only: ``mmseg.apis.init_model`` sets both on any config
            (the student and teacher have their own).
    """

    def __init__(self,
                 teacher: dict,
                 student: dict,
                 teacher_ckpt: Optional[str] = None,
                 random_teacher: bool = False,
                 recorders: Optional[dict] = None,
                 distill_losses: Optional[dict] = None,
                 align: Union[str, int] = 'smaller',
                 teacher_precision: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 pretrained: None = None,
                 train_cfg: None = None):
        check_init_model_keys('SegDistiller', 'model.student', pretrained, train_cfg)
        check_align(align, 'model.align', SOURCES)
        precision = _teacher_precision(teacher_precision)
        unused_from = []  # the student's config sets find_unused_parameters (mcl_mm.Runner)
        student_cfg = resolve_model_cfg(student, 'model.student', unused_from)
        teacher_cfg = resolve_model_cfg(teacher, 'model.teacher')
        student_model = MODELS.build(student_cfg)
        teacher_model = revert_sync_batchnorm(MODELS.build(teacher_cfg))
        preprocessor, _ = composite_preprocessor(
            [student_model, teacher_model], [student_cfg, teacher_cfg],
            ['model.student', 'model.teacher'], data_preprocessor)
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.student = student_model
        self.unused_parameters_from = unused_from
        self.align = align

        if teacher_ckpt is not None:
            load_teacher_checkpoint(teacher_model, teacher_ckpt)
        elif random_teacher:
            teacher_model.init_weights()
        else:
            raise ValueError('model.teacher_ckpt is not set: give the teacher checkpoint, or set '
                             'model.random_teacher=True to distil from a random teacher (tests)')
        teacher_model.requires_grad_(False)
        teacher_model.eval()
        self.teacher_dtype, self.teacher_channels_last = precision
        if self.teacher_channels_last:
            teacher_model.to(memory_format=torch.channels_last)
        # outside the module tree: not in parameters(), state_dict() or train()/eval()
        object.__setattr__(self, 'teacher', teacher_model)
        self._check_num_classes()

        models = dict(student=self.student, teacher=self.teacher)
        self.recorders: Dict[str, ModuleRecorder] = {}
        self.sources: Dict[str, str] = {}
        for name, rec in (recorders or {}).items():
            key = f'model.recorders.{name}'
            if rec.get('source') not in models:
                raise ValueError(f"{key}.source must be 'student' or 'teacher', "
                                 f'got {rec.get("source")!r}')
            self.recorders[name] = ModuleRecorder(models[rec['source']], rec, key,
                                                  ignore=('source', ))
            self.sources[name] = rec['source']

        self.distill_losses = nn.ModuleDict()
        self.loss_inputs: Dict[str, Dict[str, str]] = {}
        for key, cfg in (distill_losses or {}).items():
            self.distill_losses[key], self.loss_inputs[key] = self._build_loss(key, cfg)
        self.distill_weight_scale = 1.0
        self._log_keys: Dict[str, List[str]] = {}  # loss key -> the names it logs under

    def stock_parts(self) -> List[tuple]:
        """``[('student', 'model.student', student)]`` (state-dict prefix, config key,
        module): the stock model a toolbox's optimizer constructor (layer-wise decay) is
        applied to as to the student alone
        (:class:`~mcl_mm.engine.partwise_optim_constructor.PartwiseOptimWrapperConstructor`);
        the frozen teacher has no parameters in the optimizer."""
        return [('student', 'model.student', self.student)]

    def _build_loss(self, key: str, cfg: dict):
        cfg = dict(cfg)
        inputs = dict(cfg.pop('inputs', {}))
        name = f'model.distill_losses.{key}'
        unknown = sorted(set(inputs.values()) - set(self.recorders) - {GT_SEM_SEG})
        if unknown:
            raise ValueError(f'{name}.inputs names {unknown}, which are neither recorders '
                             f'{sorted(self.recorders)} nor {GT_SEM_SEG!r}')
        with config_key(name):
            loss_cls = MODELS.get(cfg.get('type'))
            for arg, channel_key in getattr(loss_cls, 'channel_args', {}).items():
                if arg in inputs and inputs[arg] in self.recorders:
                    infer_channels(cfg, name, channel_key, self.recorders[inputs[arg]])
            return MODELS.build(cfg), inputs

    def _check_num_classes(self) -> None:
        t = getattr(self.teacher, 'num_classes', None)
        s = getattr(self.student, 'num_classes', None)
        if t is not None and s is not None and t != s:
            raise ValueError(
                f'model.teacher predicts {t} classes but model.student {s} (num_classes of '
                'their decode heads): teacher and student must predict the same classes')

    def __getattr__(self, name: str):
        # the student as mmseg sees a segmentor (SegTTAModel, visualiser, hooks)
        try:
            return super().__getattr__(name)
        except AttributeError:
            student = self.__dict__.get('_modules', {}).get('student')
            if student is None or name.startswith('__'):
                raise
            return getattr(student, name)

    def _apply(self, fn, *args, **kwargs):
        # the teacher is outside the module tree: move/cast it with the distiller
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
        return self

    def _set_device(self, device: torch.device) -> None:
        super()._set_device(device)
        self.teacher._set_device(device)  # the teacher's own data preprocessor

    def _batches(self, inputs, data_samples):
        """(inputs, data_samples) of the student and of the teacher."""
        if isinstance(inputs, PerModelBatch):
            return list(zip(inputs.inputs, inputs.data_samples))
        return [(inputs, data_samples)] * 2

    def forward(self,
                inputs: Union[torch.Tensor, PerModelBatch],
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[dict, list, torch.Tensor]:
        """``inputs``: (B, 3, H, W) preprocessed images, or a :class:`PerModelBatch` when the
        models preprocess differently; ``mode``: loss, predict or tensor."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            return self.student(*self._batches(inputs, data_samples)[0], mode=mode)
        raise ValueError(f"Invalid mode {mode!r}: expected 'loss', 'predict' or 'tensor'")

    def loss(self, inputs, data_samples: List) -> dict:
        (s_inputs, s_samples), (t_inputs, t_samples) = self._batches(inputs, data_samples)
        losses = dict(self.student(s_inputs, s_samples, mode='loss'))
        scale = float(self.distill_weight_scale)
        if scale == 0:
            # distillation switched off: no teacher pass. Every distillation loss is logged as
            # 0 (not left at its last value), and the losses' own parameters (projection
            # heads) stay in the graph with zero gradient, as DDP expects.
            for key, module in self.distill_losses.items():
                params = list(module.parameters())
                zero = sum(p.sum() for p in params) * 0. if params else s_inputs.new_zeros(())
                losses.update({name: zero for name in self._log_keys.get(key, [key])})
            self._clear()
            return losses
        self.run_teacher(t_inputs, t_samples)
        padded = dict(student=tuple(s_inputs.shape[-2:]), teacher=tuple(t_inputs.shape[-2:]))
        losses.update(self.distillation_losses(self.recorded(s_samples, padded), scale))
        self._clear()
        return losses

    def run_teacher(self, inputs: torch.Tensor, data_samples: List) -> None:
        """The frozen teacher's whole-image forward (its recorders fill), without autograd, in
        ``model.teacher_precision``: under autocast of its dtype, channels-last if asked."""
        with torch.no_grad(), torch.autocast(device_type=inputs.device.type,
                                             dtype=self.teacher_dtype or torch.float32,
                                             enabled=self.teacher_dtype is not None):
            metas = [s.metainfo for s in data_samples]
            if not self.teacher_channels_last:
                self.teacher.encode_decode(inputs, metas)
                return
            try:
                self.teacher.encode_decode(inputs.contiguous(memory_format=torch.channels_last),
                                           metas)
            except RuntimeError as e:
                # stock ops that view a tensor as contiguous NCHW (PSANet's PSAMask, DMNet's
                # dynamic convolution) fail on channels-last activations with torch's view
                # error; other errors are not the memory format's
                if 'view size is not compatible' not in str(e):
                    raise
                raise RuntimeError(
                    'model.teacher_precision.channels_last=True: the teacher fails in the '
                    f'channels-last memory format ({e}): some stock ops (PSANet, DMNet) view '
                    'their tensors as contiguous NCHW; set '
                    'model.teacher_precision.channels_last=False') from e

    def recorded(self, data_samples: List, padded: Dict[str, tuple]) -> Dict[str, tuple]:
        """What the recorders saw in the last student and teacher passes, plus the labels
        (cropped to the input region both models cover): name -> (tensor, source, padded size
        of that source's batch)."""
        records = {name: (self._fp32(rec.get(), self.sources[name]), self.sources[name],
                          padded[self.sources[name]])
                   for name, rec in self.recorders.items()}
        if any(GT_SEM_SEG in inputs_ for inputs_ in self.loss_inputs.values()):
            h, w = common_extent(list(padded.values()))
            labels = torch.stack([s.gt_sem_seg.data for s in data_samples]).squeeze(1).long()
            records[GT_SEM_SEG] = (labels[:, :h, :w], 'labels', (h, w))
        return records

    def _fp32(self, x, source: str):
        """A teacher tensor computed in reduced precision, as float32 for the losses."""
        if source == 'teacher' and self.teacher_dtype is not None and \
                isinstance(x, torch.Tensor) and x.dtype in (torch.float16, torch.bfloat16):
            return x.float()
        return x

    def distillation_losses(self, records: Dict[str, tuple], scale: float = 1.) -> dict:
        """Each distillation loss on the recorded tensors, aligned to one grid, under its log
        name, times ``scale``."""
        losses = {}
        for key, module in self.distill_losses.items():
            args, names = list(self.loss_inputs[key]), list(self.loss_inputs[key].values())
            tensors = [records[n][0] for n in names]
            sources = [records[n][1] for n in names]
            aligned = align_tensors(
                [None if n == GT_SEM_SEG else t for n, t in zip(names, tensors)], sources,
                {records[n][1]: records[n][2] for n in names}, self.align)
            kwargs = {a: (t if n == GT_SEM_SEG else x)
                      for a, n, t, x in zip(args, names, tensors, aligned)}
            with config_key(f'model.distill_losses.{key}'):
                out = module(**kwargs)
            if not isinstance(out, dict):
                out = {None: out}
            named = {key if name is None else f'{key}_{name}': value * scale
                     for name, value in out.items()}
            self._log_keys[key] = list(named)
            losses.update(named)
        return losses

    def _clear(self) -> None:
        for rec in self.recorders.values():
            rec.clear()
