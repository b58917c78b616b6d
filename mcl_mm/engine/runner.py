"""mmengine's Runner, plus the hooks a config lists in ``mcl_mm_hooks``, and a ``--resume``
that survives a run killed at any moment.

mcl_mm's runtime base (``configs/_base_/mcl_mm_runtime.py``) must combine with any toolbox
config, and MMEngine refuses a key that two bases both define: toolbox configs that define
``custom_hooks`` (YOLOX, RTMDet, SSD, mmpose's runtime) could not be a sibling base of one that
defines it too. So the runtime base names mcl_mm's hooks under ``mcl_mm_hooks`` and sets
``runner_type='mcl_mm.Runner'``, which appends them to the config's own ``custom_hooks`` (a hook
type the config already lists, e.g. ``mcl_mm.DatasetCheckHook`` with other arguments, is not
added twice). The tools of mmseg, mmdet, mmpose and mcl_mm build the runner from
``runner_type``; ``tools/train.py`` builds configs without one with this runner too.

A killed run leaves, at worst, an empty ``last_checkpoint`` (mmengine rewrites it in place;
mcl_mm writes it atomically, but a run of another tool may not) or the temporary file of a
checkpoint write. This runner removes such temporary files from the work dir when it starts
and resumes from the newest checkpoint that loads
(:func:`~mcl_mm.engine.checkpoint.resolve_resume_checkpoint`), saying so in the log.
"""
import copy

from mmengine.dist import is_main_process
from mmengine.runner import Runner as MMEngineRunner

from mcl_mm.registry import RUNNERS

from .checkpoint import check_load_from_fits, remove_partial_writes, resolve_resume_checkpoint
from .partwise_optim_constructor import partwise_optim_wrapper_cfg


def _type_name(hook) -> str:
    hook_type = hook.get('type') if isinstance(hook, dict) else type(hook)
    name = hook_type if isinstance(hook_type, str) else getattr(hook_type, '__name__', '')
    return name.split('.')[-1]


def merge_hooks(custom_hooks, extra_hooks) -> list:
    """``custom_hooks`` followed by the hooks of ``extra_hooks`` whose type it lacks."""
    hooks = list(custom_hooks or [])
    have = {_type_name(h) for h in hooks}
    return hooks + [copy.deepcopy(h) for h in extra_hooks or [] if _type_name(h) not in have]


@RUNNERS.register_module()
class Runner(MMEngineRunner):
    """:class:`mmengine.runner.Runner` whose ``custom_hooks`` also get ``cfg.mcl_mm_hooks`` and
    whose ``--resume`` skips over what a kill left behind."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if is_main_process():
            removed = remove_partial_writes(self.work_dir)
            if removed:
                self.logger.info(f'removed {len(removed)} temporary file(s) of interrupted '
                                 f'checkpoint writes from {self.work_dir}: {removed}')

    def wrap_model(self, model_wrapper_cfg, model):
        """MMEngine's, with the ``find_unused_parameters=True`` of the configs the model's
        trained parts come from (``model.unused_parameters_from``: a cohort member or CIRKD
        student given by ``cfg_path``; a stock config sets it where its model leaves
        parameters out of the loss, e.g. mmdet's YOLOv3-MobileNetV2). Without it DDP stops at
        the second step. A config that sets ``find_unused_parameters`` itself keeps it."""
        sources = getattr(model, 'unused_parameters_from', None)
        ddp = (None, 'MMDistributedDataParallel', 'mcl_mm.CPUDistributedDataParallel')
        if (sources and self.distributed and self.cfg.get('find_unused_parameters') is None
                and (model_wrapper_cfg is None
                     or (model_wrapper_cfg.get('type') in ddp
                         and 'find_unused_parameters' not in model_wrapper_cfg))):
            self.cfg.find_unused_parameters = True  # what MMEngine's default wrapper reads
            if model_wrapper_cfg is not None:
                model_wrapper_cfg['find_unused_parameters'] = True
            self.logger.info(f'DDP with find_unused_parameters=True: the config of '
                             f'{", ".join(sources)} sets it (set find_unused_parameters=False '
                             'in this config to override)')
        return super().wrap_model(model_wrapper_cfg, model)

    def build_optim_wrapper(self, optim_wrapper):
        """MMEngine's; for a composite (CIRKD distiller, cohort) whose ``optim_wrapper``
        names a constructor other than MMEngine's default (a stock recipe's layer-wise decay),
        that constructor is applied to each stock part as to the model alone
        (:mod:`mcl_mm.engine.partwise_optim_constructor`)."""
        if isinstance(optim_wrapper, dict):
            partwise = partwise_optim_wrapper_cfg(self.model, optim_wrapper)
            if partwise is not None:
                parts = [name for name, _, _ in getattr(self.model, 'module',
                                                        self.model).stock_parts()]
                self.logger.info(
                    f"optim_wrapper: {optim_wrapper['constructor']} is applied to each of "
                    f'{parts} as to that model alone (mcl_mm.PartwiseOptimWrapperConstructor); '
                    "the other parameters get the optimizer's own settings")
                optim_wrapper = partwise
        return super().build_optim_wrapper(optim_wrapper)

    def load_checkpoint(self, filename, *args, **kwargs):
        """MMEngine's, refusing a stock model's checkpoint given to a composite as
        ``load_from``, which would load nothing (:func:`check_load_from_fits`)."""
        checkpoint = super().load_checkpoint(filename, *args, **kwargs)
        check_load_from_fits(self.model, checkpoint.get('state_dict', checkpoint), filename)
        return checkpoint

    def load_or_resume(self) -> None:
        if self._resume and not self._has_loaded:
            self._load_from = resolve_resume_checkpoint(self.work_dir, self._load_from,
                                                        log=self.logger.warning)
        super().load_or_resume()

    @classmethod
    def from_cfg(cls, cfg) -> 'Runner':
        cfg = copy.deepcopy(cfg)
        cfg['custom_hooks'] = merge_hooks(cfg.get('custom_hooks'), cfg.pop('mcl_mm_hooks', None))
        return super().from_cfg(cfg)
