"""Top-k accuracy of ``mcl_mm.ImageClassifier`` predictions."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric

from mcl_mm.registry import METRICS


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy in percent: ``{prefix}/top{k}`` for each k of ``topk``.

    Reads each prediction's ``pred_score`` (K,) and ``gt_label`` (1,) (``ClsDataSample``
    fields; ``pred_label`` (1,) is enough for ``topk=(1,)``). A prediction is correct at
    k when the label is among the k highest scores (ties broken by ``torch.topk``); for
    k >= K that is always the case, so such ``top{k}`` is 100.

    Args:
        topk (int | Sequence[int]): the k's; default (1, 5).
        collect_device (str): 'cpu' or 'gpu', for gathering results across ranks.
        prefix (str, optional): key prefix; default ``'accuracy'`` (keys
            ``accuracy/top1``, ``accuracy/top5``).
    """
    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 topk: Union[int, Sequence[int]] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not topk or not all(isinstance(k, int) and k > 0 for k in topk):
            raise ValueError(f'Accuracy topk must be positive ints, got {topk!r}')
        self.topk = topk

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'gt_label' not in sample:
                raise ValueError('Accuracy needs data samples with gt_label')
            if 'pred_score' in sample:
                pred = sample['pred_score'].detach().cpu()
            elif 'pred_label' in sample and self.topk == (1, ):
                pred = sample['pred_label'].detach().cpu().reshape(-1)[:1]
            else:
                raise ValueError('Accuracy needs data samples with pred_score (or pred_label '
                                 'when topk=(1,))')
            self.results.append((pred, sample['gt_label'].detach().cpu().reshape(-1)[0]))

    def compute_metrics(self, results: List[tuple]) -> dict:
        labels = torch.stack([label for _, label in results]).long()
        if results[0][0].dtype in (torch.int64, torch.int32):  # pred_label only, top-1
            correct = torch.stack([pred[0] for pred, _ in results]) == labels
            return dict(top1=correct.float().mean().item() * 100)
        scores = torch.stack([score for score, _ in results])
        top = scores.topk(min(max(self.topk), scores.shape[1]), dim=1).indices
        hits = top == labels[:, None]
        return {f'top{k}': hits[:, :k].any(1).float().mean().item() * 100 for k in self.topk}
