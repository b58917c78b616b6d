"""Score every member of a cohort (or model group) with a stock metric."""
import copy
import os.path as osp
from typing import Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement

from mcl_mm.registry import METRICS


@METRICS.register_module()
class MemberMetric(BaseMetric):
    """Runs a copy of ``metric`` per member and prefixes its results with ``m{k}/``.

    The model must predict with every member (``model.predict_member='all'``): each predicted
    sample then carries ``member_samples``, member k's predicted sample at index k. Results
    are e.g. ``m0/mIoU``, ``m1/mIoU`` (or ``m0/accuracy/top1``), so the best checkpoint can
    follow one member: ``default_hooks.checkpoint.save_best='m1/mIoU'``.

    Args:
        metric (dict): the stock metric's config, e.g. ``dict(type='IoUMetric',
            iou_metrics=['mIoU'])`` or mmpretrain's ``dict(type='Accuracy', topk=(1, 5))``,
            built in the config's default scope; it reads each member's samples as dicts
            (``to_dict()``), as MMEngine's evaluator hands them to a metric.
        members (list[int], optional): the members to score; default all.

    An ``output_dir`` of ``metric`` (mmseg's ``IoUMetric`` writes the predicted label maps
    there; tools/test.py ``--out DIR``) becomes ``output_dir/m{k}`` for member k.
    """

    def __init__(self, metric: dict, members: Optional[Sequence[int]] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metric_cfg = metric
        self.members = None if members is None else list(members)
        self.metrics = {}  # member index -> its metric, built on first use

    def _metric(self, k: int) -> BaseMetric:
        if k not in self.metrics:
            cfg = copy.deepcopy(self.metric_cfg)
            if cfg.get('output_dir'):  # (mmseg's IoUMetric: label maps) a folder per member
                cfg['output_dir'] = osp.join(cfg['output_dir'], f'm{k}')
            metric = METRICS.build(cfg)
            metric.dataset_meta = self.dataset_meta
            self.metrics[k] = metric
        return self.metrics[k]

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if not data_samples:
            return
        if 'member_samples' not in data_samples[0]:
            raise ValueError("mcl_mm.MemberMetric needs every member's predictions: set "
                             "model.predict_member='all'")
        num_members = len(data_samples[0]['member_samples'])
        members = range(num_members) if self.members is None else self.members
        for k in members:
            if not 0 <= k < num_members:
                raise ValueError(f'MemberMetric.members names member {k}, but the model has '
                                 f'{num_members} members')
            samples = [s['member_samples'][k] for s in data_samples]
            samples = [s.to_dict() if isinstance(s, BaseDataElement) else s for s in samples]
            self._metric(k).process(data_batch, samples)

    def compute_metrics(self, results: list) -> dict:  # pragma: no cover - evaluate overrides
        raise NotImplementedError

    def evaluate(self, size: int) -> dict:
        """Each member's metric (gathered across ranks by the stock metric itself)."""
        out = {}
        for k in sorted(self.metrics):
            for name, value in self.metrics[k].evaluate(size).items():
                out[f'm{k}/{name}'] = value
        if self.prefix:
            out = {f'{self.prefix}/{name}': value for name, value in out.items()}
        return out
