"""Teacher-student distillation for MMSegmentation segmentors.

One file, one path: batch -> student (its own losses) -> frozen teacher -> recorded
intermediate outputs -> distillation losses -> log. Intermediate outputs are taken by module
name with forward hooks (as MMRazor's recorders), so any mmseg architecture plugs in by config.
"""
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel, revert_sync_batchnorm
from torch import nn

from mcl_mm.registry import MODELS

from ..builder import build_task_model
from ..recorder import ModuleRecorder

# a recorder input that is not a module output: the (B, H, W) labels of the batch
GT_SEM_SEG = 'gt_sem_seg'


def load_teacher_checkpoint(teacher: nn.Module, path: str) -> None:
    """Load ``path`` into ``teacher`` strictly; a missing file or mismatched keys is an error
    that names the file and the keys (``model.teacher_ckpt``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'model.teacher_ckpt: no file {path!r}. Put the teacher checkpoint there (see the '
            'config header for where it comes from), or set model.teacher_ckpt=None and '
            'model.random_teacher=True to distil from a randomly initialised teacher (tests).')
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


@MODELS.register_module()
class SegDistiller(BaseModel):
    """A student segmentor trained with distillation losses from a frozen teacher segmentor.

    mmseg's loops, metrics, TTA and visualiser treat it as the student: ``predict``,
    ``tensor`` and ``test_step`` run the student only, and ``decode_head``/``out_channels``
    are the student's. In ``loss`` mode it returns the student's own losses plus each
    distillation loss under its config key (a loss that returns a dict is logged as
    ``{key}_{name}``), scaled by ``distill_weight_scale`` (1 unless a
    :class:`~mcl_mm.engine.hooks.DistillLossWeightHook` ramps or stops it).

    The teacher is frozen: its parameters have ``requires_grad=False``, it runs under
    ``no_grad`` in eval mode, and it is kept outside the module tree, so it stays in eval
    mode after ``model.train()``, has no parameters in the optimizer and is not saved in the
    distiller's checkpoints (it is loaded from ``teacher_ckpt`` when the model is built).

    Args:
        teacher (dict): mmseg model config, inline or ``dict(cfg_path=..., **overrides)``.
        student (dict): the same for the student.
        teacher_ckpt (str, optional): checkpoint loaded strictly into the teacher.
        random_teacher (bool): must be True to allow ``teacher_ckpt=None`` (tests only).
        recorders (dict): ``name -> dict(source='student'|'teacher', module=NAME,
            io='input'|'output')``, e.g. ``s_feat=dict(source='student',
            module='decode_head.conv_seg', io='input')`` is the student head's post-dropout
            feature (B, C, H/8, W/8) and ``io='output'`` its logits (B, K, H/8, W/8).
        distill_losses (dict): ``key -> loss config`` with an ``inputs`` dict mapping the
            loss's forward arguments to recorder names or ``'gt_sem_seg'`` (the batch labels,
            (B, H, W) long), e.g. ``loss_kd=dict(type='mcl_mm.PixelKDLoss',
            inputs=dict(preds_S='s_logits', preds_T='t_logits'))``.
        data_preprocessor (dict, optional): defaults to the student's; the teacher sees the
            same preprocessed batch.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 teacher: dict,
                 student: dict,
                 teacher_ckpt: Optional[str] = None,
                 random_teacher: bool = False,
                 recorders: Optional[dict] = None,
                 distill_losses: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        student_model = build_task_model(student, 'model.student')
        super().__init__(
            data_preprocessor=data_preprocessor or student_model.data_preprocessor,
            init_cfg=init_cfg)
        self.student = student_model

        teacher_model = revert_sync_batchnorm(build_task_model(teacher, 'model.teacher'))
        if teacher_ckpt is not None:
            load_teacher_checkpoint(teacher_model, teacher_ckpt)
        elif random_teacher:
            teacher_model.init_weights()
        else:
            raise ValueError('model.teacher_ckpt is not set: give the teacher checkpoint, or set '
                             'model.random_teacher=True to distil from a random teacher (tests)')
        teacher_model.requires_grad_(False)
        teacher_model.eval()
        # outside the module tree: not in parameters(), state_dict() or train()/eval()
        object.__setattr__(self, 'teacher', teacher_model)
        self._check_num_classes()

        models = dict(student=self.student, teacher=self.teacher)
        self.recorders: Dict[str, ModuleRecorder] = {}
        for name, rec in (recorders or {}).items():
            key = f'model.recorders.{name}'
            if rec.get('source') not in models:
                raise ValueError(f"{key}.source must be 'student' or 'teacher', "
                                 f'got {rec.get("source")!r}')
            self.recorders[name] = ModuleRecorder(models[rec['source']], rec['module'],
                                                  rec.get('io', 'output'), key)

        self.distill_losses = nn.ModuleDict()
        self.loss_inputs: Dict[str, Dict[str, str]] = {}
        for key, cfg in (distill_losses or {}).items():
            cfg = dict(cfg)
            inputs = dict(cfg.pop('inputs', {}))
            unknown = sorted(set(inputs.values()) - set(self.recorders) - {GT_SEM_SEG})
            if unknown:
                raise ValueError(f'model.distill_losses.{key}.inputs names {unknown}, which are '
                                 f'neither recorders {sorted(self.recorders)} nor {GT_SEM_SEG!r}')
            self.distill_losses[key] = MODELS.build(cfg)
            self.loss_inputs[key] = inputs
        self.distill_weight_scale = 1.0
        self._log_keys: Dict[str, List[str]] = {}  # loss key -> the names it logs under

    def _check_num_classes(self) -> None:
        t_head = getattr(self.teacher, 'decode_head', None)
        s_head = getattr(self.student, 'decode_head', None)
        if t_head is not None and s_head is not None and t_head.num_classes != s_head.num_classes:
            raise ValueError(
                f'model.teacher.decode_head.num_classes={t_head.num_classes} but '
                f'model.student.decode_head.num_classes={s_head.num_classes}: teacher and '
                'student must predict the same classes')

    # the student as mmseg sees a segmentor (SegTTAModel, visualiser)
    @property
    def decode_head(self):
        return self.student.decode_head

    @property
    def out_channels(self):
        return self.student.out_channels

    @property
    def num_classes(self):
        return self.student.num_classes

    def _apply(self, fn, *args, **kwargs):
        # the teacher is outside the module tree: move/cast it with the distiller
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
        return self

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[dict, list, torch.Tensor]:
        """``inputs``: (B, 3, H, W) preprocessed images; ``mode``: loss, predict or tensor."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            return self.student(inputs, data_samples, mode=mode)
        raise ValueError(f"Invalid mode {mode!r}: expected 'loss', 'predict' or 'tensor'")

    def loss(self, inputs: torch.Tensor, data_samples: List) -> dict:
        losses = dict(self.student(inputs, data_samples, mode='loss'))
        scale = float(self.distill_weight_scale)
        if scale == 0:
            # distillation switched off: no teacher pass. Every distillation loss is logged as
            # 0 (not left at its last value), and the losses' own parameters (projection
            # heads) stay in the graph with zero gradient, as DDP expects.
            for key, module in self.distill_losses.items():
                params = list(module.parameters())
                zero = sum(p.sum() for p in params) * 0. if params else inputs.new_zeros(())
                losses.update({name: zero for name in self._log_keys.get(key, [key])})
            self._clear()
            return losses
        with torch.no_grad():
            self.teacher(inputs, data_samples, mode='tensor')
        losses.update(self.distillation_losses(self.recorded(data_samples), scale))
        self._clear()
        return losses

    def recorded(self, data_samples: List) -> Dict[str, torch.Tensor]:
        """What the recorders saw in the last student and teacher passes, plus the labels."""
        records = {name: rec.data for name, rec in self.recorders.items()}
        missing = sorted(n for n, v in records.items() if v is None)
        if missing:
            raise RuntimeError(f'recorders {missing} saw no forward pass: their modules are not '
                               'used by the forward of their model')
        if any(GT_SEM_SEG in inputs_ for inputs_ in self.loss_inputs.values()):
            records[GT_SEM_SEG] = torch.stack(
                [s.gt_sem_seg.data for s in data_samples]).squeeze(1).long()
        return records

    def distillation_losses(self, records: Dict[str, torch.Tensor], scale: float = 1.) -> dict:
        """Each distillation loss on the recorded tensors, under its log name, times ``scale``."""
        losses = {}
        for key, module in self.distill_losses.items():
            out = module(**{arg: records[src] for arg, src in self.loss_inputs[key].items()})
            if not isinstance(out, dict):
                out = {None: out}
            named = {key if name is None else f'{key}_{name}': value * scale
                     for name, value in out.items()}
            self._log_keys[key] = list(named)
            losses.update(named)
        return losses

    def _clear(self) -> None:
        for rec in self.recorders.values():
            rec.data = None
