"""MCL losses: Mutual Contrastive Learning for a cohort of networks.

Re-implemented from the authors' code (``winycg/MCL``: ``losses/cifar_sup_mcl_loss.py``, the
in-batch form; ``losses/imagenet_sup_mcl_loss.py``, the memory-bank form; and
``winycg/L-MCL``: ``losses/imagenet_sup_layer_mcl_meta_loss.py``, the layer-wise form with a
gathered memory update):

* :class:`MCLLoss`: the four contrastive terms of MCL (AAAI 2022) and of layer-wise MCL
  (TPAMI 2023) between the embeddings of N >= 2 members, with their projection heads.
* :class:`MutualKDLoss`: every member's logits distilled from the detached mean of the
  cohort's logits (the authors' ``criterion_div(logits[i], ensemble_logits)``).

Views. A *view* is (member i, stage k): member i's feature at its k-th chosen stage (one view
per member gives MCL; several give L-MCL). Each view has its own projection head
(Linear -> ReLU -> Linear -> L2-normalise). With ``e_v`` the (B, D) embeddings of view v and
``tau`` the similarity temperature:

* VCL (vanilla contrastive learning): for every view v, the supervised contrastive loss of
  v's anchors against v's own member's contrast set (``intra_v``).
* ICL (interactive contrastive learning): for every ordered pair of views (v, w) of different
  members i != j, the supervised contrastive loss of v's anchors against member j's contrast
  set (``inter_vw``).
* soft VCL: for every ordered pair (v, w) of views of different members,
  ``KL(softmax(intra_w.detach() / T) || softmax(intra_v / T)) * T²`` (v learns from w).
* soft ICL: for every ordered pair (v, w) of views of different members,
  ``KL(softmax(inter_wv.detach() / T) || softmax(inter_vw / T)) * T²``; i.e. for every
  unordered pair both directions, as the reference's
  ``kl(cos_ij, cos_ji.detach()) + kl(cos_ji, cos_ij.detach())``.

How the terms are summed (with uniform pair weights, i.e. the authors' meta-learned weights of
L-MCL replaced by 1). With one view per member (MCL) as ``winycg/MCL``: VCL is the sum over the
views, soft VCL, ICL and soft ICL the sums over the ordered pairs (v, w), each term once. With
several views for some member (L-MCL) as ``winycg/L-MCL``, whose pair loss is called for every
ordered pair of members (i, j) and every view k of i and z of j and adds, per call, the VCL of
both views and the soft VCL, ICL and soft ICL terms in both directions: so the VCL of a view of
member i enters ``2 * sum_{j != i} S_j`` times (``2 (N - 1) S`` with S views per member: 8 for
two members of four views) and every ordered pair's soft VCL, ICL and soft ICL terms twice. A
config's ``loss_weights`` therefore mean what the paper's weights mean in both cases.

The supervised contrastive loss of one anchor is ``-mean_{p in positives} log softmax(row)[p]``
with the softmax over the row's valid entries; it is averaged over the anchors that have at
least one positive. The reference divides by the number of positives, so an anchor without one
gives NaN there; here it is skipped, and a term with no such anchor at all is 0 (finite, and
attached to the graph). The KL terms are ``kl_div(..., 'batchmean')``: summed over rows (over
their valid entries) and divided by the number of rows.

Contrast sets:

* In-batch form (``memory=None``): ``intra_v = e_v e_v^T / tau`` and
  ``inter_vw = e_v e_w^T / tau`` (B, B). With labels, the positives of anchor a are the other
  samples of its class, and the diagonal (a itself, or a's own sample in the other view) is
  left out of the positives and of the softmax for all four terms, as the reference's
  ``intra_mask`` / ``diag_mask`` (the reference's soft terms keep the diagonal; leaving it out
  of both distributions keeps the four terms on the same entries). Without labels (label-free
  models, e.g. detectors): VCL and soft VCL are 0; for ICL and soft ICL the positive is the
  diagonal (the same sample seen by the other member) and the softmax is over all B entries.
* Memory-bank form (``memory=dict(num_samples=...)``): one memory per member
  (``memory_{i}``, ``num_samples x embed_dim``) holding a momentum average of every training
  sample's last-view embedding, and ``memory_labels`` (the class of each slot, -1 until the
  sample is seen). Per anchor the contrast slots are ``[own slot, pos_k slots of the anchor's
  class, neg_k slots drawn uniformly]``; ``inter_vw`` is ``e_v`` against member j's memory at
  those slots and ``intra_v`` is ``e_v`` against member i's memory without the own slot (the
  reference's ``idx[:, 1:]``). ICL positives: the own slot and the same-class slots; VCL
  positives: the same-class slots. A same-class slot that could not be drawn (fewer than pos_k
  known slots of the class), and a drawn negative that is the own slot or has the anchor's
  (known) class, are left out of the softmax. The memories are updated after the loss (in
  training mode only) with the gathered batch of all ranks. A slot is one training sample:
  ``sample_idx`` seen with a class other than the one its slot holds is an error. (The
  authors' layer-wise ImageNet code contrasts the second view of each pair against the first
  view's member's memory, ``memory_ + str(a)`` twice; here, as in their MCL code and their
  layer-wise CIFAR code, every view's VCL is against its own member's memory.)
* Pixel sampling (``pixel_sampling=dict(...)``, in-batch form only): dense (B, C, h, w)
  features; up to ``pixels_per_class`` pixels of each class of each image are sampled and
  used as the batch.

All contrastive math runs in float32 (float64 for float64 input) with autocast disabled:
``exp(1 / 0.07)`` overflows float16.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine import dist
from torch import Tensor, nn

from mcl_mm.models.losses.utils import nearest_labels
from mcl_mm.registry import MODELS

_DEFAULT_WEIGHTS = dict(vcl=0.1, soft_vcl=1.0, icl=0.1, soft_icl=1.0)
_DEFAULT_MEMORY = dict(momentum=0.5, neg_k=8192, pos_k=1)
_DEFAULT_PIXEL_SAMPLING = dict(pixels_per_class=16, ignore_index=255)


def _compute_dtype(x: Tensor) -> torch.dtype:
    """float32 for half-precision (autocast) input, else the input's dtype (float64 stays)."""
    return torch.promote_types(x.dtype, torch.float32)


class _Entries(NamedTuple):
    """Which of the (R, K) logits of a term enter its softmaxes, as float tensors.

    ``fill`` is added to the logits: 0 on the entries of the softmax, a large finite negative
    elsewhere, where ``exp`` then gives exactly 0: the same softmax as ``masked_fill(-inf)``
    and the same gradient (0 there), but left-out log-probabilities stay finite, so products
    with a zero weight are 0 and need no masking. (On CPU a ``masked_fill`` of a (608, 608)
    float tensor takes about 20x an addition, and bool reductions and casts are as slow.)
    A row without any valid entry keeps all its entries (a finite softmax) and contributes 0.
    """
    fill: Tensor  # (R, K) 0 or -big
    pos: Tensor  # (R, K) 1. on the positives, else 0.
    num_pos: Tensor  # (R,) positives per row
    nonempty: Tensor  # (R,) 1. for a row with a valid entry, else 0.


def _entries(pos: Tensor, valid: Tensor, dtype: torch.dtype) -> _Entries:
    """The :class:`_Entries` of (R, K) bool masks ``pos`` (a subset of ``valid``) and
    ``valid``, in the compute type ``dtype``."""
    keep = valid.view(torch.uint8).to(dtype)  # bool masks as 0/1 via uint8: fast on CPU
    pos = pos.view(torch.uint8).to(dtype)
    nonempty = keep.amax(1) if keep.shape[1] else keep.new_zeros(keep.shape[0])
    # -big on the entries left out, 0 on the rest and on every entry of an empty row
    fill = (keep - 1.).mul_(nonempty[:, None] * (torch.finfo(dtype).max / 4))
    return _Entries(fill, pos, pos.sum(1), nonempty)


class _CohortTerms(torch.autograd.Function):
    """The four terms from the raw similarity matrices of the cohort, with their gradients.

    ``mats[m]`` is an (R, K_m) matrix of raw similarities (embeddings times a contrast set);
    its logits are ``X_m = scale * mats[m]`` (scale = 1 / tau) and ``entries[m]`` says which
    of them enter its softmaxes. ``sup`` lists ``(m, term, count)``: ``count`` times the
    supervised contrastive loss of ``X_m`` is added to ``term`` (0 vcl, 2 icl); ``kl`` lists
    ``(student, teacher, term, count)``: ``count * T² / R * sum_rows KL(softmax(X_teacher / T)
    || softmax(X_student / T))`` is added to ``term`` (1 soft vcl, 3 soft icl), the teacher
    detached. Returns the (4,) terms.

    With the masks as additive fills (:class:`_Entries`) a left-out entry has probability
    exactly 0, so every row sum is a row dot product with a probability (or 0/1) matrix and
    the fill drops out of it: with ``z = c * X + fill`` (c = 1 or 1 / T), ``lse`` its row
    logsumexp and ``p = softmax(z)``,

    * supervised row: ``lse(z) - c * (pos . X) / num_pos``, averaged over the anchors with a
      positive;
    * KL row: ``sum_k p_t (z_t - z_s) - lse(z_t) + lse(z_s)
      = c * (p_t . X_t - p_t . X_s) - lse(z_t) + lse(z_s)``, on the non-empty rows.

    So only the softmaxes are kept (one per matrix and temperature it is used at), and the
    logits ``z`` and products go through one scratch matrix. The logsumexp comes from the
    softmax: at a row's largest logit the softmax is ``1 / sum_k exp(z_k - max)``, so
    ``lse = max - log(max p)`` (``torch.logsumexp`` costs about twice the softmax on CPU).
    Backward is analytic:

    * supervised: ``d/dX[r] = (p[r] - pos[r] / num_pos[r]) / rows`` for the ``rows`` anchors
      that have a positive (0 for the others);
    * KL, student side: ``d/dX = T / R * (p_s - p_t)`` (at 1 / T) on the non-empty rows.
    """

    @staticmethod
    def forward(ctx, scale: float, T: float, entries: Sequence[_Entries],
                sup: Sequence[Tuple[int, int, float]],
                kl: Sequence[Tuple[int, int, int, float]], *mats: Tensor) -> Tensor:
        out = mats[0].new_zeros(4)
        ctx.scale, ctx.num_mats = scale, len(mats)
        # ctx.sup: (matrix, term, then the places in ``saved`` of its softmax, per-row weight,
        # positives and 1 / their number); ctx.kl: (student, term, then those of the
        # student's softmax, the teacher's and the per-row weight). Saved through
        # save_for_backward: freed by backward, seen by saved-tensor hooks.
        ctx.sup, ctx.kl, saved = [], [], []

        def keep(*tensors: Tensor) -> List[int]:
            saved.extend(tensors)
            return list(range(len(saved) - len(tensors), len(saved)))

        if mats[0].shape[0] == 0:  # no rows (e.g. no pixel sampled): every term is 0
            ctx.save_for_backward()
            return out
        scratch = mats[0].new_empty(max(m.numel() for m in mats))

        def row_dot(x: Tensor, y: Tensor) -> Tensor:  # (R, K), (R, K) -> (R,)
            return torch.mul(x, y, out=scratch[:x.numel()].view(x.shape)).sum(1)

        def softmax_lse(m: int, c: float) -> Tuple[Tensor, Tensor]:
            z = torch.add(entries[m].fill, mats[m], alpha=c,
                          out=scratch[:mats[m].numel()].view(mats[m].shape))
            p = torch.softmax(z, 1)
            return p, z.amax(1) - p.amax(1).log()

        for m, term, count in sup:
            e = entries[m]
            p, lse = softmax_lse(m, scale)
            inv_num_pos = 1. / e.num_pos.clamp_min(1)
            rows = lse - row_dot(e.pos, mats[m]) * (scale * inv_num_pos)
            has_pos = (e.num_pos > 0).to(p.dtype)
            weight = has_pos * (count / has_pos.sum().clamp_min(1))
            out[term] += (rows * weight).sum()
            ctx.sup.append((m, term, *keep(p, weight, e.pos, inv_num_pos)))
        soft = {m: softmax_lse(m, scale / T) for m in sorted({k for s, t, *_ in kl
                                                              for k in (s, t)})}
        for s, t, term, count in kl:
            (p_s, lse_s), (p_t, lse_t) = soft[s], soft[t]
            rows = ((row_dot(p_t, mats[t]) - row_dot(p_t, mats[s])) * (scale / T)
                    - lse_t + lse_s)
            weight = entries[s].nonempty * (count * T * T / mats[s].shape[0])
            out[term] += (rows * weight).sum()
            ctx.kl.append((s, term, *keep(p_s, p_t, weight / T)))
        ctx.save_for_backward(*saved)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        # grad mode is on in backward only with create_graph=True (not once_differentiable:
        # it would run this under no_grad and let a constant gradient pass silently)
        if torch.is_grad_enabled():
            raise RuntimeError(
                'MCLLoss has no second-order gradients (its terms are one autograd function '
                'with an analytic first-order backward): call backward / autograd.grad '
                'without create_graph=True through the MCL losses')
        saved = ctx.saved_tensors
        grads = [None] * ctx.num_mats
        go = grad_out * ctx.scale  # 0-dim factors: no device sync

        def add(m: int, p: Tensor, row_weight: Tensor) -> None:
            if grads[m] is None:
                grads[m] = p * row_weight[:, None]
            else:
                grads[m].addcmul_(p, row_weight[:, None])

        for m, term, *places in ctx.sup:
            p, weight, pos, inv_num_pos = (saved[i] for i in places)
            weight = weight * go[term]
            add(m, p, weight)
            grads[m].addcmul_(pos, (-weight * inv_num_pos)[:, None])
        for s, term, *places in ctx.kl:
            p_s, p_t, weight = (saved[i] for i in places)
            weight = weight * go[term]
            add(s, p_s, weight)
            grads[s].addcmul_(p_t, -weight[:, None])
        # None (no gradient) for the matrices that are only teachers
        return (None, None, None, None, None, *grads)


class _Gram(torch.autograd.Function):
    """``e e^T`` (R, R) of (R, D) rows; its backward ``(G + G^T) e`` is one product where
    autograd's would be two (and differentiable again)."""

    @staticmethod
    def forward(ctx, e: Tensor) -> Tensor:
        ctx.save_for_backward(e)
        return e @ e.t()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (e, ) = ctx.saved_tensors
        return (grad + grad.t()) @ e


def _all_gather_cat(x: Tensor) -> Tensor:
    """Concatenate ``x`` (n_r, ...) of every rank in rank order; the sizes n_r may differ.
    Identity outside distributed training."""
    if dist.get_world_size() == 1:
        return x
    sizes = [int(n) for n in dist.all_gather(torch.tensor([x.shape[0]], device=x.device))]
    padded = x.new_zeros((max(sizes), ) + tuple(x.shape[1:]))
    padded[:x.shape[0]] = x
    return torch.cat([part[:n] for part, n in zip(dist.all_gather(padded), sizes)])


def _last_occurrence(index: Tensor) -> Tensor:
    """Positions of the last occurrence of each distinct value of ``index`` (W,) -> (W',)."""
    uniq, inverse = torch.unique(index, return_inverse=True)
    positions = torch.arange(index.numel(), device=index.device)
    last = torch.zeros(uniq.numel(), dtype=torch.long, device=index.device)
    return last.scatter_reduce_(0, inverse, positions, reduce='amax', include_self=False)


def _stable_argsort(keys: Tensor, num_keys: int) -> Tensor:
    """``torch.argsort(keys, stable=True)`` of (N,) integer keys in [0, num_keys). On CPU with
    up to 2^16 keys through numpy's stable sort of 16-bit integers, a radix sort (at 16,384
    keys 0.07 ms against torch's 0.6 ms)."""
    if keys.device.type == 'cpu' and num_keys <= 1 << 16:
        return torch.from_numpy(np.argsort(keys.numpy().astype(np.uint16), kind='stable'))
    return torch.argsort(keys, stable=True)


class _PointGather(torch.autograd.Function):
    """``feat[batch, :, y, x]`` (M, C) at distinct points of (B, C, h, w) maps, the points
    grouped by image: ``pos`` (M,) flat positions ``y * w + x``, the first ``counts[0]`` in
    image 0, the next ``counts[1]`` in image 1, ...

    Backward copies the points' gradients into the zero gradient with one ``index_copy_`` per
    image (the points are distinct: nothing to accumulate) where advanced indexing's backward
    runs an accumulating ``index_put_``. Torch profiler at the Cityscapes pixel case (608
    points of (2, 128, 64, 128) maps, 1 thread, glibc not trimming): 2.6 ms against 3.25 ms
    per feature map, the scatter 0.42 ms against 1.17 ms; the zero fill of the 8 MiB gradient
    is most of the rest. The forward (one ``index_select`` along the pixels per image) costs
    what indexing does: it waits on memory either way. The backward is made of differentiable
    operations.
    """

    @staticmethod
    def forward(ctx, feat: Tensor, pos: Tensor, counts: Tuple[int, ...]) -> Tensor:
        ctx.save_for_backward(pos)
        ctx.shape, ctx.counts = feat.shape, counts
        flat = feat.flatten(2)  # (B, C, h·w)
        return torch.cat([flat[i].index_select(1, p).t() for i, p in enumerate(pos.split(counts))])

    @staticmethod
    def backward(ctx, grad: Tensor):
        (pos, ) = ctx.saved_tensors
        B, C = ctx.shape[:2]
        out = grad.new_zeros(B, C, ctx.shape[2:].numel())
        for i, (p, g) in enumerate(zip(pos.split(ctx.counts), grad.split(ctx.counts))):
            out[i].index_copy_(1, p, g.t().contiguous())
        return out.view(ctx.shape), None, None


def _bilinear_points(feat: Tensor, batch: Tensor, y: Tensor, x: Tensor,
                     size: Tuple[int, int]) -> Tensor:
    """Values of ``F.interpolate(feat, size, mode='bilinear', align_corners=False)`` at the
    points (batch, y, x) of the resized grid, without resizing the whole map.

    Args:
        feat (Tensor): (B, C, h', w').
        batch, y, x (Tensor): (M,) long point coordinates on the (h, w) grid ``size``.

    Returns:
        Tensor: (M, C).
    """
    coords = []
    for dst, n_in, n_out in ((y, feat.shape[2], size[0]), (x, feat.shape[3], size[1])):
        # as ATen's area_pixel_compute_source_index (align_corners=False), clamped at 0
        src = ((dst.to(feat.dtype) + 0.5) * (n_in / n_out) - 0.5).clamp_min(0)
        i0 = src.long().clamp_max(n_in - 1)
        i1 = (i0 + 1).clamp_max(n_in - 1)
        frac = (src - i0.to(feat.dtype))[:, None]
        coords.append((i0, i1, frac))
    (y0, y1, fy), (x0, x1, fx) = coords
    top = feat[batch, :, y0, x0] * (1 - fx) + feat[batch, :, y0, x1] * fx
    bottom = feat[batch, :, y1, x0] * (1 - fx) + feat[batch, :, y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _checked_dict(name: str, value: Optional[dict], defaults: dict,
                  required: Sequence[str] = ()) -> dict:
    """``defaults`` updated with ``value``; unknown or missing keys raise naming ``name``."""
    value = dict(value)
    unknown = sorted(set(value) - set(defaults) - set(required))
    if unknown:
        raise ValueError(f'{name} got unknown keys {unknown}; known keys: '
                         f'{sorted(set(defaults) | set(required))}')
    missing = [key for key in required if key not in value]
    if missing:
        raise ValueError(f'{name} needs the keys {missing}')
    return {**defaults, **value}


@MODELS.register_module()
class MCLLoss(nn.Module):
    """Mutual contrastive learning (MCL / layer-wise L-MCL) between the members of a cohort.

    See the module docstring for the four terms and the contrast sets.

    Args:
        in_channels (Sequence[Sequence[int]] | Sequence[int]): for each member, the channels
            of each of its views (stages); a flat list means one view per member. At least two
            members. With more than one view for some member the terms are summed as the
            authors' L-MCL code sums them (module docstring; ``layerwise`` is then True).
        embed_dim (int): D, dimension of the projected embeddings (128).
        tau (float): similarity temperature.
        kd_temperature (float): temperature T of the soft (KL) terms.
        loss_weights (dict, optional): weights of ``vcl``, ``soft_vcl``, ``icl`` and
            ``soft_icl`` (defaults 0.1, 1.0, 0.1, 1.0; a partial dict overrides those keys). A
            term of weight 0 is not computed and returns an attached 0.
        memory (dict, optional): the memory-bank form: ``num_samples`` (required: the size of
            the training set, ``sample_idx`` < num_samples), ``momentum`` (0.5, in [0, 1)),
            ``neg_k`` (8192, >= 1) and ``pos_k`` (1, >= 0). None gives the in-batch form.
        pixel_sampling (dict, optional): dense features (in-batch form only):
            ``pixels_per_class`` (16, per class and image) and ``ignore_index`` (255).
        seed (int): seed of the module's own CPU generator (memory init and all draws).

    Buffers: ``memory_{i}`` (num_samples, embed_dim) per member and ``memory_labels``
    (num_samples,) long, with the memory form. The generator's state is saved in the state
    dict (``_extra_state``).
    """

    def __init__(self,
                 in_channels: Union[Sequence[Sequence[int]], Sequence[int]],
                 embed_dim: int = 128,
                 tau: float = 0.1,
                 kd_temperature: float = 3.0,
                 loss_weights: Optional[dict] = None,
                 memory: Optional[dict] = None,
                 pixel_sampling: Optional[dict] = None,
                 seed: int = 0):
        super().__init__()
        channels = [[c] if isinstance(c, int) else list(c) for c in in_channels]
        if len(channels) < 2:
            raise ValueError(f'in_channels={list(in_channels)} describes {len(channels)} '
                             'member(s): a cohort needs at least two members')
        for i, member in enumerate(channels):
            if not member or not all(isinstance(c, int) and c >= 1 for c in member):
                raise ValueError(f'in_channels[{i}]={member} must be one or more positive ints '
                                 f'(the channels of each view of member {i})')
        if embed_dim < 1:
            raise ValueError(f'embed_dim must be >= 1, got {embed_dim}')
        if not tau > 0 or not kd_temperature > 0:
            raise ValueError(f'tau and kd_temperature must be > 0, got {tau}, {kd_temperature}')
        self.in_channels = channels
        self.embed_dim = embed_dim
        self.tau = tau
        self.kd_temperature = kd_temperature
        self.loss_weights = _checked_dict('loss_weights', loss_weights or {}, _DEFAULT_WEIGHTS)
        # L-MCL: the terms are summed as the authors' layer-wise code sums them
        self.layerwise = any(len(member) > 1 for member in channels)

        self.heads = nn.ModuleList([
            nn.ModuleList([
                nn.Sequential(
                    nn.Linear(c, embed_dim), nn.ReLU(inplace=True),
                    nn.Linear(embed_dim, embed_dim)) for c in member
            ]) for member in channels
        ])

        self.generator = torch.Generator()
        self.generator.manual_seed(seed)

        self.memory = None
        if memory is not None:
            self.memory = _checked_dict('memory', memory, _DEFAULT_MEMORY, ['num_samples'])
            num_samples = self.memory['num_samples']
            if num_samples < 1:
                raise ValueError(f'memory.num_samples must be >= 1, got {num_samples}')
            if self.memory['pos_k'] < 0:
                raise ValueError(f'memory.pos_k must be >= 0, got {self.memory["pos_k"]}')
            if self.memory['neg_k'] < 1:
                # without negatives VCL and ICL contrast the positives with each other only
                raise ValueError(f'memory.neg_k must be >= 1 (the negatives drawn per anchor), '
                                 f'got {self.memory["neg_k"]}')
            if not 0 <= self.memory['momentum'] < 1:
                # 1 would never write an embedding: the memories would stay random
                raise ValueError(f'memory.momentum must be in [0, 1) (the share of the old '
                                 f'slot), got {self.memory["momentum"]}')
            # as the reference: uniform in [-stdv, stdv), stdv = 1 / sqrt(D / 3) (norm ~ 1)
            stdv = 1. / (embed_dim / 3)**0.5
            for i in range(len(channels)):
                init = torch.rand(num_samples, embed_dim, generator=self.generator)
                self.register_buffer(f'memory_{i}', init.mul_(2 * stdv).sub_(stdv))
            self.register_buffer('memory_labels',
                                 torch.full((num_samples, ), -1, dtype=torch.long))

        self.pixel_sampling = None
        if pixel_sampling is not None:
            if memory is not None:
                raise ValueError('pixel_sampling works with the in-batch form only: set '
                                 'memory=None or pixel_sampling=None')
            self.pixel_sampling = _checked_dict('pixel_sampling', pixel_sampling,
                                                _DEFAULT_PIXEL_SAMPLING)
            if self.pixel_sampling['pixels_per_class'] < 1:
                raise ValueError('pixel_sampling.pixels_per_class must be >= 1, got '
                                 f'{self.pixel_sampling["pixels_per_class"]}')

    @property
    def num_members(self) -> int:
        return len(self.in_channels)

    # the generator's state travels with the state dict
    def get_extra_state(self) -> Tensor:
        # a plain tensor: mmengine broadcasts every state_dict entry across ranks at start
        return self.generator.get_state()

    def set_extra_state(self, state: Tensor) -> None:
        self.generator.set_state(state.cpu())

    def _step_generator(self) -> torch.Generator:
        """A generator for this step's draws on this rank.

        One int is drawn from the module's generator per step, whatever the rank's data, so
        the module's generator stays in step on all ranks (and resumes exactly); the step's
        draws, whose number depends on the rank's batch, come from a generator seeded with
        that int plus the rank.
        """
        step_seed = int(torch.randint(0, 2**62, (1, ), generator=self.generator))
        return torch.Generator().manual_seed(step_seed + dist.get_rank())

    # ------------------------------------------------------------------ inputs

    def _check_feats(self, feats) -> List[List[Tensor]]:
        if not isinstance(feats, (list, tuple)) or len(feats) != self.num_members:
            got = len(feats) if isinstance(feats, (list, tuple)) else type(feats).__name__
            raise ValueError(f'MCLLoss needs a list of {self.num_members} members\' features '
                             f'(one per entry of in_channels), got {got}')
        batch = None
        dim = 4 if self.pixel_sampling is not None else 2
        shape = '(B, C, h, w) (pixel_sampling is set)' if dim == 4 else '(B, C)'
        views = []
        for i, (member, channels) in enumerate(zip(feats, self.in_channels)):
            member = [member] if isinstance(member, Tensor) else list(member)
            if len(member) != len(channels):
                raise ValueError(f'member {i} has {len(member)} views but in_channels[{i}]='
                                 f'{channels} lists {len(channels)}')
            for k, (feat, c) in enumerate(zip(member, channels)):
                if feat.dim() != dim:
                    raise ValueError(f'feats[{i}][{k}] must be {shape}, got '
                                     f'{tuple(feat.shape)}')
                if feat.shape[1] != c:
                    raise ValueError(f'feats[{i}][{k}] (member {i}, view {k}) has '
                                     f'{feat.shape[1]} channels, expected in_channels[{i}][{k}]'
                                     f'={c}')
                batch = feat.shape[0] if batch is None else batch
                if feat.shape[0] != batch:
                    raise ValueError(f'feats[{i}][{k}] has batch size {feat.shape[0]}, '
                                     f'feats[0][0] has {batch}')
            views.append(member)
        return views

    def _check_labels(self, labels: Optional[Tensor], batch: int) -> Optional[Tensor]:
        if labels is None:
            if self.pixel_sampling is not None:
                raise ValueError('MCLLoss with pixel_sampling needs labels (B, H, W)')
            return None
        if self.pixel_sampling is not None:
            if labels.dim() == 4 and labels.shape[1] == 1:
                labels = labels[:, 0]
            if labels.dim() != 3 or labels.shape[0] != batch:
                raise ValueError(f'labels must be (B, H, W) with B={batch} (pixel_sampling), '
                                 f'got {tuple(labels.shape)}')
        elif labels.shape != (batch, ):
            raise ValueError(f'labels must be ({batch},), got {tuple(labels.shape)}')
        if labels.is_floating_point():
            raise ValueError(f'labels must be integers, got {labels.dtype}')
        labels = labels.long()
        if self.memory is not None and bool((labels < 0).any()):
            raise ValueError('labels must be >= 0 with the memory form (-1 marks unseen '
                             'memory slots)')
        return labels

    def _check_sample_idx(self, sample_idx: Optional[Tensor], batch: int) -> Tensor:
        if sample_idx is None:
            raise ValueError('MCLLoss with memory needs sample_idx (B,), the dataset index of '
                             'each sample: the dataset must pack \'sample_idx\' into the data '
                             'samples\' metainfo')
        if sample_idx.shape != (batch, ) or sample_idx.is_floating_point():
            raise ValueError(f'sample_idx must be ({batch},) integers, got '
                             f'{tuple(sample_idx.shape)} {sample_idx.dtype}')
        sample_idx = sample_idx.long()
        num_samples = self.memory['num_samples']
        if batch and bool(((sample_idx < 0) | (sample_idx >= num_samples)).any()):
            raise ValueError(f'sample_idx {sample_idx.min().item()}..{sample_idx.max().item()} '
                             f'is out of the memory: memory.num_samples={num_samples} must be '
                             'the size of the training set')
        return sample_idx

    # ------------------------------------------------------------------ forward

    def forward(self,
                feats: Sequence[Union[Tensor, Sequence[Tensor]]],
                labels: Optional[Tensor] = None,
                sample_idx: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """The weighted MCL losses.

        Args:
            feats (list): ``feats[i]`` is member i's feature, a tensor or a list with one
                tensor per view; each (B, C) (pooled), or (B, C, h, w) with pixel_sampling.
            labels (Tensor, optional): (B,) class labels; (B, H, W) with pixel_sampling.
                None: label-free (VCL and soft VCL are 0).
            sample_idx (Tensor, optional): (B,) dataset indices, required with memory.

        Returns:
            dict: ``loss_vcl``, ``loss_soft_vcl``, ``loss_icl``, ``loss_soft_icl``, float32
            scalars already multiplied by their weights.
        """
        views = self._check_feats(feats)
        batch, device = views[0][0].shape[0], views[0][0].device
        labels = self._check_labels(labels, batch)
        labels = None if labels is None else labels.to(device)
        if self.memory is not None:
            sample_idx = self._check_sample_idx(sample_idx, batch).to(self.memory_labels.device)
        with torch.autocast(device_type=device.type, enabled=False):
            views = [[f.to(_compute_dtype(f)) for f in member] for member in views]
            if self.pixel_sampling is not None:
                views, labels = self._sample_pixels(views, labels)
            embeds = [[F.normalize(head(f), p=2, dim=1) for head, f in zip(heads, member)]
                      for heads, member in zip(self.heads, views)]
            if self.memory is None:
                losses = self._in_batch_losses(embeds, labels)
            else:
                losses = self._memory_losses(embeds, labels, sample_idx)
        return {f'loss_{key}': self.loss_weights[key] * value for key, value in losses.items()}

    def _cohort_losses(self, embeds: List[List[Tensor]], intra, inter, intra_masks,
                       inter_masks) -> Dict[str, Tensor]:
        """The four terms, given the similarities and masks of either form.

        Args:
            embeds: embeds[i][k], (R, D) embeddings of view (i, k).
            intra: ``intra(v)`` -> (R, K1) similarities (not yet divided by tau) of view v
                against its member's contrast set.
            inter: ``inter(v, w)`` -> (R, K2) similarities of view v against the contrast set
                of w's member.
            intra_masks: (pos, valid), (R, K1) bool each, or None (no labels: no VCL terms).
            inter_masks: (pos, valid), (R, K2) bool each.
        """
        views = [(i, k) for i in range(len(embeds)) for k in range(len(embeds[i]))]
        pairs = [(v, w) for v in views for w in views if v[0] != w[0]]
        vcl_count, pair_count = self._term_counts()
        weights = self.loss_weights
        # the matrices, their entries, and the terms over them (see _CohortTerms)
        mats, entries, sup, kl = [], [], [], []
        intra_entries = None
        if intra_masks is not None and (weights['vcl'] or weights['soft_vcl']):
            index = {v: len(mats) + n for n, v in enumerate(views)}
            mats += [intra(v) for v in views]
            intra_entries = _entries(*intra_masks, mats[-1].dtype)
            entries += [intra_entries] * len(views)
            if weights['vcl']:
                sup += [(index[v], 0, vcl_count[v[0]]) for v in views]
            if weights['soft_vcl']:
                kl += [(index[v], index[w], 1, pair_count) for v, w in pairs]
        if weights['icl'] or weights['soft_icl']:
            index = {pair: len(mats) + n for n, pair in enumerate(pairs)}
            mats += [inter(v, w) for v, w in pairs]
            # the in-batch form with labels passes the same masks for both
            inter_entries = (intra_entries if intra_entries is not None
                             and inter_masks is intra_masks else
                             _entries(*inter_masks, mats[-1].dtype))
            entries += [inter_entries] * len(pairs)
            if weights['icl']:
                sup += [(index[v, w], 2, pair_count) for v, w in pairs]
            if weights['soft_icl']:
                kl += [(index[v, w], index[w, v], 3, pair_count) for v, w in pairs]
        # an attached zero for the terms that are not computed
        zero = torch.stack([e.sum() for member in embeds for e in member]).sum() * 0.
        losses = dict(vcl=zero, soft_vcl=zero, icl=zero, soft_icl=zero)
        if mats:
            terms = _CohortTerms.apply(1. / self.tau, self.kd_temperature, entries, sup, kl,
                                       *mats)
            computed = {term for group in (sup, kl) for *_, term, _ in group}
            for term, key in enumerate(losses):
                if term in computed:
                    losses[key] = terms[term]
        return losses

    def _term_counts(self) -> Tuple[List[int], int]:
        """How many times each term enters its sum (see the module docstring).

        Returns:
            tuple: per member i, the count of the VCL of each of its views (1 for MCL,
            ``2 * sum_{j != i} S_j`` for L-MCL, S_j the views of member j), and the count of
            every ordered pair's soft VCL, ICL and soft ICL terms (1 for MCL, 2 for L-MCL).
        """
        if not self.layerwise:
            return [1] * self.num_members, 1
        sizes = [len(member) for member in self.in_channels]
        return [2 * (sum(sizes) - s) for s in sizes], 2

    def _in_batch_losses(self, embeds: List[List[Tensor]],
                         labels: Optional[Tensor]) -> Dict[str, Tensor]:
        """In-batch form: (R, R) similarities between the R rows (samples or sampled pixels)."""
        R = embeds[0][0].shape[0]
        eye = torch.eye(R, dtype=torch.bool, device=embeds[0][0].device)
        if labels is None:
            intra_masks = None
            inter_masks = (eye, torch.ones_like(eye))  # positive: the same sample
        else:
            same_class_others = (labels[:, None] == labels[None]) & ~eye
            intra_masks = inter_masks = (same_class_others, ~eye)

        def intra(v):
            return _Gram.apply(embeds[v[0]][v[1]])

        cache = {}

        def inter(v, w):
            # e_w e_v^T is the transpose of e_v e_w^T: one product for both
            if (w, v) in cache:
                return cache[w, v].t()
            cache[v, w] = embeds[v[0]][v[1]] @ embeds[w[0]][w[1]].t()
            return cache[v, w]

        return self._cohort_losses(embeds, intra, inter, intra_masks, inter_masks)

    # ------------------------------------------------------------------ memory form

    def _memory_losses(self, embeds: List[List[Tensor]], labels: Optional[Tensor],
                       sample_idx: Tensor) -> Dict[str, Tensor]:
        """Memory form: similarities against the members' memories at the drawn slots."""
        idx = self._draw_contrast_idx(sample_idx, labels, self._step_generator())
        pos, neg = self._contrast_masks(idx, labels)
        own = pos.new_ones(pos.shape[0], 1)
        no_neg = torch.zeros_like(neg)
        inter_masks = (torch.cat([own, pos, no_neg], 1), torch.cat([own, pos, neg], 1))
        intra_masks = None
        if labels is not None:
            intra_masks = (torch.cat([pos, no_neg], 1), torch.cat([pos, neg], 1))
        views = [(i, k) for i in range(len(embeds)) for k in range(len(embeds[i]))]
        column = {v: c for c, v in enumerate(views)}
        # (R, D, V): every view's embeddings, so that each member's slots are read once
        stacked = torch.stack([embeds[i][k] for i, k in views], 2)
        # (R, 1 + pos_k + neg_k, V) similarities of every view with each member's memory at
        # the slots; index_select: on CPU much faster than advanced indexing for row gathers
        sims = []
        for j in range(self.num_members):
            memory = getattr(self, f'memory_{j}')
            slots = memory.index_select(0, idx.reshape(-1)).view(*idx.shape, -1)
            sims.append(torch.bmm(slots, stacked.to(memory.dtype)))

        def intra(v):
            # without the own slot (reference: idx[:, 1:])
            return sims[v[0]][:, 1:, column[v]]

        def inter(v, w):
            # the contrast set is w's member's memory: the same for all views of that member
            return sims[w[0]][:, :, column[v]]

        losses = self._cohort_losses(embeds, intra, inter, intra_masks, inter_masks)
        if self.training:
            self._update_memory([member[-1].detach() for member in embeds], sample_idx, labels)
        return losses

    @torch.no_grad()
    def _draw_contrast_idx(self, sample_idx: Tensor, labels: Optional[Tensor],
                           generator: torch.Generator) -> Tensor:
        """(R, 1 + pos_k + neg_k) memory slots: [own, same-class, negatives].

        The pos_k same-class slots are drawn without replacement among the slots whose
        ``memory_labels`` is the anchor's label, the own slot excluded; where fewer exist (and
        without labels) the missing ones are the own slot, which :meth:`_contrast_masks`
        leaves out. The neg_k negatives are drawn uniformly with replacement from all slots.
        """
        R, device = sample_idx.shape[0], sample_idx.device
        pos_k, neg_k = self.memory['pos_k'], self.memory['neg_k']
        neg = torch.randint(self.memory['num_samples'], (R, neg_k), generator=generator)
        uniform = torch.rand(R, pos_k, generator=generator, dtype=torch.float64)
        pos = sample_idx[:, None].expand(R, pos_k)
        if labels is not None and pos_k > 0:
            pos = self._draw_same_class(sample_idx, labels, uniform.to(device))
        return torch.cat([sample_idx[:, None], pos, neg.to(device)], 1)

    def _draw_same_class(self, own: Tensor, labels: Tensor, uniform: Tensor) -> Tensor:
        """(R, pos_k) distinct slots of each anchor's class other than its own (own slot where
        the class has too few), from (R, pos_k) uniform numbers in [0, 1)."""
        memory_labels = self.memory_labels
        order = torch.argsort(memory_labels, stable=True)  # slots by class, index within
        sorted_labels = memory_labels[order]
        start = torch.searchsorted(sorted_labels, labels)
        count = torch.searchsorted(sorted_labels, labels, right=True) - start
        rank = torch.empty_like(order)
        rank[order] = torch.arange(order.numel(), device=order.device)
        # the own slot's place in its class's group is taken already (beyond the group if the
        # slot holds another class)
        own_in_class = memory_labels[own] == labels
        taken = torch.where(own_in_class, rank[own] - start, count)[:, None]
        free = count - own_in_class.long()
        picks = []
        for t in range(uniform.shape[1]):
            # the r-th free place of the group (sequential draw without replacement)
            place = (uniform[:, t] * (free - t).clamp_min(1)).long()
            for before in torch.sort(taken, dim=1).values.unbind(1):
                place = place + (before <= place).long()
            taken = torch.cat([taken, place[:, None]], 1)
            slot = order[(start + place).clamp(max=order.numel() - 1)]
            picks.append(torch.where(free - t > 0, slot, own))
        return torch.stack(picks, 1)

    @torch.no_grad()
    def _contrast_masks(self, idx: Tensor, labels: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Valid same-class slots (R, pos_k) and valid negatives (R, neg_k) of ``idx``.

        A same-class slot is valid if it is not the own slot and holds the anchor's class; a
        negative is valid if it is not the own slot and does not hold the anchor's class
        (unseen slots, label -1, are valid negatives). Without labels no same-class slot is
        valid and only the own slot is left out of the negatives.
        """
        slots = idx[:, 1:]
        not_own = slots != idx[:, :1]
        if labels is None:
            same = torch.zeros_like(not_own)
        else:
            same = self.memory_labels[slots] == labels[:, None]
        pos_k = self.memory['pos_k']
        return (not_own & same)[:, :pos_k], (not_own & ~same)[:, pos_k:]

    @torch.no_grad()
    def _update_memory(self, embeds: List[Tensor], sample_idx: Tensor,
                       labels: Optional[Tensor]) -> None:
        """``slot = normalize(momentum * slot + (1 - momentum) * e)`` for the gathered batch.

        Args:
            embeds: per member, the (B, D) last-view embeddings (detached).
            sample_idx (Tensor): (B,) slots.
            labels (Tensor, optional): (B,), written into ``memory_labels``.

        The batches of all ranks are gathered (rank order), so every rank applies the same
        update. A slot present several times is updated once, from its value before the step,
        with the embedding of its last occurrence (the highest rank, then the latest in that
        rank's batch).
        """
        sample_idx = _all_gather_cat(sample_idx)
        keep = _last_occurrence(sample_idx)
        slots = sample_idx[keep]
        if labels is not None:
            labels = _all_gather_cat(labels)
            self._check_slot_labels(sample_idx, labels, keep)
        m = self.memory['momentum']
        for i, e in enumerate(embeds):
            memory = getattr(self, f'memory_{i}')
            e = _all_gather_cat(e.contiguous())[keep].to(memory.dtype)
            memory[slots] = F.normalize(memory[slots] * m + e * (1 - m), p=2, dim=1)
        if labels is not None:
            self.memory_labels[slots] = labels[keep]

    def _check_slot_labels(self, sample_idx: Tensor, labels: Tensor, keep: Tensor) -> None:
        """A slot is one training sample: its class must not change.

        Args:
            sample_idx (Tensor): (W,) gathered slots, repeats allowed.
            labels (Tensor): (W,) their labels.
            keep (Tensor): (W',) the last occurrence of each distinct slot, in the order of
                ``torch.unique(sample_idx)`` (:func:`_last_occurrence`).

        Raises a ValueError where a slot already holds another class, or where one gathered
        batch gives one slot two classes: ``sample_idx`` then does not name one sample (e.g.
        indices within the sub-datasets of a concatenation), and the slot's memory and its
        same-class draws would mix samples of different classes.
        """
        held = self.memory_labels[sample_idx]
        _, inverse = torch.unique(sample_idx, return_inverse=True)
        written = labels[keep][inverse]  # the label each occurrence's slot will hold
        changed = (held >= 0) & (held != labels)
        bad = changed | (written != labels)
        if bool(bad.any()):
            b = int(torch.nonzero(bad)[0, 0])
            other = int(held[b]) if bool(changed[b]) else int(written[b])
            raise ValueError(
                f'sample_idx {int(sample_idx[b])} comes with label {int(labels[b])}, but its '
                f'memory slot also holds class {other}: each sample_idx must name one training '
                f'sample for the whole run (its index in the training set, < '
                f'memory.num_samples={self.memory["num_samples"]}), e.g. not an index within '
                f'one sub-dataset of a concatenated set')

    # ------------------------------------------------------------------ pixel sampling

    @torch.no_grad()
    def _sample_pixel_positions(self, labels: Tensor, size: Tuple[int, int],
                                generator: torch.Generator) -> Tuple[Tensor, Tensor]:
        """Up to ``pixels_per_class`` random non-ignored pixels per class and image.

        Args:
            labels (Tensor): (B, H, W) labels, nearest-downsampled here to ``size`` (h, w).

        Returns:
            tuple: (M,) flat positions in the (B, h, w) grid, ascending, and their (M,) labels.
        """
        ignore = self.pixel_sampling['ignore_index']
        labels = nearest_labels(labels, size).long().reshape(-1)
        B = labels.numel() // (size[0] * size[1])
        valid = labels != ignore
        num_labels = int(torch.where(valid, labels, 0).max()) + 1 if labels.numel() else 1
        # group (image, class) of each pixel; ignored pixels in a last group
        image = torch.arange(B, device=labels.device).repeat_interleave(size[0] * size[1])
        group = torch.where(valid, image * num_labels + labels.clamp_min(0), B * num_labels)
        # pixels in a random order, then grouped (stable): random order within each group
        order = torch.randperm(labels.numel(), generator=generator).to(labels.device)
        order = order[_stable_argsort(group[order], B * num_labels + 1)]
        sorted_group = group[order]
        position = torch.arange(order.numel(), device=labels.device)
        new_group = torch.ones_like(valid)
        new_group[1:] = sorted_group[1:] != sorted_group[:-1]
        group_start = torch.cummax(torch.where(new_group, position, 0), dim=0).values
        chosen = (position - group_start < self.pixel_sampling['pixels_per_class'])
        chosen &= sorted_group < B * num_labels
        picked = torch.sort(order[chosen]).values
        return picked, labels[picked]

    def _sample_pixels(self, views: List[List[Tensor]],
                       labels: Tensor) -> Tuple[List[List[Tensor]], Tensor]:
        """Dense views (B, C, h, w) -> (M, C) features at the sampled pixels, and (M,) labels.

        The pixels are sampled on the grid of member 0's last view; a view of another size is
        bilinearly resized to it (``align_corners=False``, evaluated at the sampled points
        only). All members and views use the same pixels.
        """
        size = tuple(views[0][-1].shape[2:])
        picked, labels = self._sample_pixel_positions(labels, size, self._step_generator())
        h, w = size
        batch, y, x = picked // (h * w), picked // w % h, picked % w
        # picked ascends: the points come grouped by image
        counts = tuple(torch.bincount(batch, minlength=views[0][-1].shape[0]).tolist())
        pos = picked - batch * (h * w)
        out = []
        for member in views:
            out.append([
                _PointGather.apply(feat, pos, counts)
                if tuple(feat.shape[2:]) == size else _bilinear_points(feat, batch, y, x, size)
                for feat in member
            ])
        return out, labels


@MODELS.register_module()
class MutualKDLoss(nn.Module):
    """Mutual logit distillation towards the cohort's mean, as the authors' training scripts.

    ``sum_i KL(softmax(mean.detach() / T) || softmax(logits_i / T)) * T²`` with ``mean`` the
    average of the members' logits, each KL averaged over rows (samples; pixels for dense
    logits), as ``kl_div(..., 'batchmean')`` on (rows, K).

    Args:
        temperature (float): T.
        loss_weight (float): factor applied to the loss.
    """

    def __init__(self, temperature: float = 3.0, loss_weight: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, logits: Sequence[Tensor]) -> Tensor:
        """logits: per member, (B, K) or (B, K, H, W) logits of the same shape -> scalar."""
        if not isinstance(logits, (list, tuple)) or len(logits) < 2:
            got = len(logits) if isinstance(logits, (list, tuple)) else type(logits).__name__
            raise ValueError(f'MutualKDLoss needs the logits of at least two members (a '
                             f'cohort), got {got}')
        shapes = [tuple(x.shape) for x in logits]
        if len(set(shapes)) != 1 or logits[0].dim() < 2:
            raise ValueError(f'MutualKDLoss needs logits (B, K) or (B, K, H, W) of the same '
                             f'shape for all members, got {shapes}')
        T = self.temperature
        num_rows = logits[0].numel() // logits[0].shape[1]
        with torch.autocast(device_type=logits[0].device.type, enabled=False):
            logits = [x.to(_compute_dtype(x)) for x in logits]
            log_p = F.log_softmax(torch.stack(logits).mean(0).detach() / T, dim=1)
            loss = sum(
                F.kl_div(F.log_softmax(x / T, dim=1), log_p, reduction='sum', log_target=True)
                for x in logits)
        return self.loss_weight * loss * (T * T) / max(num_rows, 1)
