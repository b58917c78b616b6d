"""CIRKD losses: Cross-Image Relational Knowledge Distillation (Yang et al., CVPR 2022).

Re-implemented from the authors' code (tag ``segv0.1``: ``losses/kd.py``,
``losses/cirkd_mini_batch.py``, ``losses/cirkd_memory.py``) with the same values and
gradients, but without materialising the large relation maps:

* :class:`PixelKDLoss`: pixel-wise logit distillation (``CriterionKD``).
* :class:`CrossImagePixelLoss`: mini-batch pixel-to-pixel relations between every ordered pair
  of images (``CriterionMiniBatchCrossImagePair``). The reference keeps B² maps of hw × hw
  entries (and their autograd graphs) alive; here a custom autograd function works on tiles of
  the batch's relation matrix, visits each pair of images once (S_ji = S_ij^T) and recomputes
  the tiles in backward, so memory stays O(B·hw·C).
* :class:`CIRKDMemoryLoss`: memory-bank pixel-to-pixel and pixel-to-region relations against
  teacher queues (``StudentSegContrast``), with the anchors processed in row blocks.

Throughout, "row KL" means: for logit matrices ``s`` (student) and ``t`` (teacher) of shape
(M, N), ``sum_rows KL(softmax(t_row) || softmax(s_row)) / M`` (``kl_div(..., 'batchmean')``).

Numerics: all relation logits are dot products of L2-normalised vectors divided by a
temperature ``tau``, so they lie in ``[-1/tau, 1/tau]``. The tiled kernels therefore use the
fixed shift ``1/tau`` for their softmax sums (``exp(x - 1/tau)`` is in ``[exp(-2/tau), 1]``),
which lets a tile serve its rows and its columns at once. That is exact as long as
``exp(-2/tau)`` is a normal number of the compute type: float32 down to ``tau = 0.025``; below
that the kernels compute in float64; temperatures below 2/700 (about 0.0029) are refused.

Scheduling (CPU): the tiles of a kernel are split once, statically and deterministically,
between ``torch.get_num_threads()`` workers; each worker runs its tiles with single-threaded
operations in its own thread (the operations release the GIL) and accumulates into its own
buffers, which are summed in worker order at the end. So a kernel has no synchronisation
between its threads but the final join: no barrier per operation, which with thousands of small
parallel operations made the kernels collapse when other processes share the cores. Results
are deterministic for a given thread count and tile size. On CUDA the tiles run one after the
other, larger. The tile size is chosen at run time from the problem size and the free memory
(:func:`_tile_budget`), or set by the losses' ``block_rows`` / ``block_cols``.

Fused passes (CPU, float32): a tile's GEMMs (:func:`native.gemm_nt`, oneDNN's where torch has
it) give raw dot products, and one C pass
(:mod:`mcl_mm.models.losses.native`, compiled on first use) turns them into the softmax sums
(forward) or the gradient weights (backward), instead of six torch passes over the tile
(bias copy, difference, ``exp``, product, row and column sums). Without a C compiler, or with
``MCL_MM_NATIVE_KERNELS=0``, the torch passes run; both give the same values to float32
rounding (``tests/test_native_kernels.py``).
"""
import threading
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine import dist
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from mcl_mm.models.losses import native
from mcl_mm.models.losses.utils import nearest_labels
from mcl_mm.registry import MODELS

# largest 2/tau for which exp(-2/tau) is still a normal number of the dtype
_MAX_LOGIT_RANGE = {torch.float32: 80.0, torch.float64: 700.0}
_MIN_TEMPERATURE = 2.0 / _MAX_LOGIT_RANGE[torch.float64]

# tile buffers per worker: on CPU small enough to stay in the caches (measured on a 2-core
# EPYC: see tools/benchmark_cirkd.py), on CUDA large (few kernel launches); never more than
# 1/_FREE_MEMORY_SHARE of the free memory
_TILE_BYTES = dict(cpu=6 << 20, cuda=256 << 20)
_TILE_ROWS = dict(cpu=256, cuda=2048)
# with the fused C passes (native.py) a tile is read once, right after its GEMMs: small tiles
# keep GEMM output and pass in the caches (2 MiB: 512 x 512 per plane, 3-6% faster than 256 x
# 512 in interleaved runs at 1 and 2 threads, see configs/cirkd/README.md)
_FUSED_TILE_ROWS = dict(cpu=512)
_FUSED_TILE_BYTES = dict(cpu=2 << 20)
# the anchor kernel's blocks (negatives x anchors): on CPU its GEMMs need a few hundred
# anchors per block to run near their peak (measured: 102 anchors x 5130 negatives 1.6x slower
# per anchor than 384), so a larger budget, still bounded by the free memory
_ANCHOR_TILE_BYTES = dict(cpu=24 << 20, cuda=256 << 20)
_ANCHOR_ROWS = dict(cpu=384)
_FREE_MEMORY_SHARE = 16


def _check_temperature(name: str, value: float) -> None:
    if not value >= _MIN_TEMPERATURE:
        raise ValueError(f'{name}={value} is not supported: similarity temperatures must be '
                         f'>= {_MIN_TEMPERATURE:.4f} (exp(-2/{name}) must not underflow)')


def _compute_dtype(dtype: torch.dtype, inv_tau: float) -> torch.dtype:
    """float32 (or float64 for float64 input), float64 where exp(-2/tau) underflows float32."""
    if dtype == torch.float64 or 2.0 * inv_tau > _MAX_LOGIT_RANGE[torch.float32]:
        return torch.float64
    return torch.float32


def _shifted_logits(x: Tensor, y: Tensor, inv_tau: float, out: Tensor) -> Tensor:
    """``x @ y.T / tau - 1/tau`` into ``out``: (R, C) x (R', C) -> (R, R'), in [-2/tau, 0]
    for unit rows."""
    bias = x.new_full((1, 1), -inv_tau)
    return torch.addmm(bias, x, y.t(), alpha=inv_tau, out=out)


def _no_autocast(fn):
    """Run an autograd function's forward/backward with autocast off: the kernels choose their
    own compute type (float32 or float64)."""

    def wrapper(ctx, *args):
        device_type = next(a.device.type for a in args if isinstance(a, Tensor))
        with torch.autocast(device_type=device_type, enabled=False):
            return fn(ctx, *args)

    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


def _free_memory(device: torch.device) -> Optional[int]:
    """Free bytes on ``device``: the CUDA driver's count, or ``MemAvailable`` of
    ``/proc/meminfo`` on CPU; None where unknown."""
    if device.type == 'cuda':
        return torch.cuda.mem_get_info(device)[0]
    if device.type != 'cpu':
        return None
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _tile_budget(device: torch.device, workers: int, sizes: Optional[dict] = None) -> int:
    """Bytes of tile buffers one worker may use: ``sizes`` (default ``_TILE_BYTES``) of the
    device type, less where the free memory is scarce (a ``1/_FREE_MEMORY_SHARE`` share of it,
    split between the workers), and at least 256 KiB."""
    sizes = _TILE_BYTES if sizes is None else sizes
    budget = sizes[device.type] if device.type in sizes else sizes['cuda']
    free = _free_memory(device)
    if free is not None:
        budget = min(budget, free // (_FREE_MEMORY_SHARE * workers))
    return max(budget, 256 << 10)


def _num_workers(device: torch.device, num_tiles: int) -> int:
    """Workers of a tiled kernel: the CPU threads torch may use (at most one per tile); one on
    other devices."""
    if device.type != 'cpu':
        return 1
    return max(1, min(torch.get_num_threads(), num_tiles))


def _partition(costs: Sequence[float], workers: int) -> List[List[int]]:
    """Split tiles of the given costs between workers, largest first to the least loaded one
    (deterministic); each worker's tiles in ascending order."""
    loads = [0.0] * workers
    parts: List[List[int]] = [[] for _ in range(workers)]
    for k in sorted(range(len(costs)), key=lambda k: (-costs[k], k)):
        w = min(range(workers), key=lambda w: (loads[w], w))
        parts[w].append(k)
        loads[w] += costs[k]
    return [sorted(part) for part in parts]


def _run_workers(fn: Callable[[int, List[int]], None], parts: List[List[int]]) -> None:
    """``fn(w, parts[w])`` for every worker w, without autograd.

    With one part it runs here. With several, worker 0 runs in this thread and the others in
    their own threads, every one with single-threaded torch operations (the operations release
    the GIL, so the workers run in parallel); torch's thread count is restored afterwards. The
    first exception of a worker is raised here after all have finished.
    """
    if len(parts) == 1:
        with torch.no_grad():
            fn(0, parts[0])
        return
    errors: List[BaseException] = []

    def target(w: int) -> None:
        try:
            torch.set_num_threads(1)  # this thread's OpenMP and MKL threads
            with torch.no_grad():
                fn(w, parts[w])
        except BaseException as e:  # re-raised in the calling thread
            errors.append(e)

    threads_before = torch.get_num_threads()
    threads = [threading.Thread(target=target, args=(w, ), daemon=True)
               for w in range(1, len(parts))]
    try:
        torch.set_num_threads(1)
        for thread in threads:
            thread.start()
        target(0)
    finally:
        for thread in threads:
            if thread.ident is not None:
                thread.join()
        torch.set_num_threads(threads_before)
    if errors:
        raise errors[0]


@MODELS.register_module()
class PixelKDLoss(nn.Module):
    """Pixel-wise logit distillation, as the reference's ``CriterionKD``.

    ``KL(softmax(t / T) || softmax(s / T)) * T²``, averaged over all B·h·w pixels (the
    reference's ``kl_div(..., reduction='batchmean')`` over the (B·h·w, K) rows).

    Args:
        temperature (float): softening temperature T.
        loss_weight (float): factor applied to the loss.
    """

    def __init__(self, temperature: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        """preds_S, preds_T: (B, K, h, w) logits (the teacher's are detached) -> scalar."""
        if preds_S.shape != preds_T.shape or preds_S.dim() < 2:
            raise ValueError(f'PixelKDLoss needs student and teacher logits of the same shape '
                             f'(B, K, h, w), got preds_S {tuple(preds_S.shape)} and preds_T '
                             f'{tuple(preds_T.shape)}')
        T = self.temperature
        log_q = F.log_softmax(preds_S / T, dim=1)
        log_p = F.log_softmax(preds_T.detach() / T, dim=1)
        # sum over classes and pixels, divided by the number of pixels (batchmean over rows)
        loss = F.kl_div(log_q, log_p, reduction='sum', log_target=True)
        num_rows = preds_S.numel() // preds_S.shape[1]
        return self.loss_weight * loss * (T * T) / num_rows


# ------------------------------------------------------------------ mini-batch relations

# a tile of the batch relation matrix: rows g0:g1 (one image), columns c0:c1 (a part of one
# image or whole images), and the width of the diagonal square it starts with (0 if none)
_Tile = Tuple[int, int, int, int, int]


def _cross_image_tiles(num_images: int, num_pixels: int, rows: int, cols: int) -> List[_Tile]:
    """Tiles of the upper triangle of the (B·N) x (B·N) relation matrix of the flattened batch.

    Row blocks of ``rows`` pixels of one image; each row block g0:g1 is paired with the
    columns g0:B·N in chunks of at most ``cols`` (>= ``rows``) columns, each a part of one
    image or, where ``cols >= N``, a run of whole images. The first chunk of a row block
    starts with the diagonal square g0:g1 x g0:g1, which is symmetric and counts once; every
    other entry also stands for its transpose.

    Returns:
        list: ``(g0, g1, c0, c1, square)`` tiles, ``square = g1 - g0`` for the first chunk of
        a row block and 0 otherwise.
    """
    N, end = num_pixels, num_images * num_pixels
    tiles = []
    for i in range(num_images):
        for r0 in range(0, N, rows):
            g0, g1 = i * N + r0, i * N + min(r0 + rows, N)
            c0 = g0
            while c0 < end:
                if c0 % N == 0 and cols >= N:
                    c1 = min(c0 + cols // N * N, end)
                else:
                    c1 = min(c0 + cols, (c0 // N + 1) * N)
                tiles.append((g0, g1, c0, c1, g1 - g0 if c0 == g0 else 0))
                c0 = c1
    return tiles


def _cross_image_plan(B: int, N: int, itemsize: int, device: torch.device,
                      rows: Optional[int], cols: Optional[int], fused: bool):
    """Tile size, tiles and their split between workers for the mini-batch kernel.

    ``rows`` / ``cols`` given are used (cols at least rows); otherwise rows is
    ``_FUSED_TILE_ROWS`` with the fused passes (``fused``, CPU only), else ``_TILE_ROWS`` of the
    device (at most N), and cols fills the worker's budget, at most B·N: ``_FUSED_TILE_BYTES``
    for two planes of rows x cols with the fused passes, else ``_TILE_BYTES`` for the four
    planes of the torch passes' backward.

    Returns:
        tuple: ``(rows, cols), tiles, parts``.
    """
    workers = _num_workers(device, B * B * N)
    if rows is None:
        table = _FUSED_TILE_ROWS if fused else _TILE_ROWS
        rows = min(N, table.get(device.type, _TILE_ROWS['cuda']))
    rows = max(1, min(rows, N))
    if cols is None:
        sizes, planes = (_FUSED_TILE_BYTES, 2) if fused else (_TILE_BYTES, 4)
        cols = _tile_budget(device, workers, sizes) // (planes * rows * itemsize)
    cols = max(rows, min(cols, B * N))
    tiles = _cross_image_tiles(B, N, rows, cols)
    parts = _partition([(g1 - g0) * (c1 - c0) for g0, g1, c0, c1, _ in tiles],
                       min(workers, len(tiles)))
    return (rows, cols), tiles, parts


def _segments(c0: int, c1: int, N: int) -> Tuple[int, int]:
    """(first image, number of images) of the columns c0:c1 of a tile; a part of one image
    counts as one."""
    return c0 // N, max(1, (c1 - c0) // N) if (c1 - c0) % N == 0 and c0 % N == 0 else 1


def _sum_in_order(parts: List[Tensor]) -> Tensor:
    """The workers' partial results added in worker order (deterministic)."""
    total = parts[0]
    for part in parts[1:]:
        total.add_(part)
    return total


class _CrossImageRelationKL(torch.autograd.Function):
    """Sum over ordered image pairs of the row KL of their pixel relation maps, tiled.

    Inputs ``a`` (B, N, Cs) and ``b`` (B, N, Ct) are L2-normalised student and teacher
    features; ``block`` and ``block_cols`` the tile size (None: chosen at run time, see
    :func:`_cross_image_plan`). For the pair (i, j), ``S_ij = a_i a_j^T`` and
    ``T_ij = b_i b_j^T`` (N, N); the output is
    ``sum_ij sum_rows KL(softmax(T_ij/tau) || softmax(S_ij/tau)) / (N·B²)``.

    The batch is flattened to B·N pixels; the relation matrices of all pairs are the blocks of
    the symmetric (B·N) x (B·N) matrices ``A A^T`` and ``B B^T``. Forward accumulates, for every
    (pixel, image) = row of a pair, the softmax sums of both maps and the teacher-weighted logit
    difference, tile by tile over the upper triangle (:func:`_cross_image_tiles`): a tile gives
    the rows of its pair and, through its column sums, the rows of the transposed pair. Only
    ``a``, ``b`` and these (B, B·N) sums are saved. Backward recomputes each tile and
    accumulates the analytic gradient ``dL/dS_ij = (softmax(S_ij/tau) - softmax(T_ij/tau)) /
    (tau·N·B²)`` (plus the transposed contribution of pair (j, i)) into ``a``, with one
    product per side of the tile. The teacher gets no gradient.
    """

    @staticmethod
    @_no_autocast
    def forward(ctx, a: Tensor, b: Tensor, tau: float, block: Optional[int] = None,
                block_cols: Optional[int] = None) -> Tensor:
        B, N, _ = a.shape
        inv_tau = 1.0 / tau
        dtype = _compute_dtype(a.dtype, inv_tau)
        A = a.to(dtype).reshape(B * N, -1).contiguous()
        Bt = b.to(dtype).reshape(B * N, -1).contiguous()
        lib = native.usable(A)
        (rows, cols), tiles, parts = _cross_image_plan(B, N, A.element_size(), A.device,
                                                       block, block_cols, lib is not None)
        # stats[w][:, c, g] for the row of global pixel g (image g // N) against image c:
        # sum_k exp(S[g, k]/tau - 1/tau), the same for T, and
        # sum_k exp(T[g, k]/tau - 1/tau) * (T - S)[g, k] / tau
        stats = [A.new_zeros(3, B, B * N) for _ in parts]

        def work(w: int, part: List[int]) -> None:
            acc = stats[w]
            if lib is not None:  # fused: the tile's sums (its two planes from native.gemm_nt)
                sums = A.new_empty(3 * (B * rows + cols))
            else:  # torch: exp(S), exp(T), exp(T) (T - S)
                buf = A.new_empty(3 * rows * cols)
            for k in part:
                g0, g1, c0, c1, square = tiles[k]
                r, c, i = g1 - g0, c1 - c0, g0 // N
                j, n = _segments(c0, c1, N)  # the columns: images j..j+n-1 or part of one
                if lib is not None:
                    tile = (native.gemm_nt(A[g0:g1], A[c0:c1]),
                            native.gemm_nt(Bt[g0:g1], Bt[c0:c1]))
                    row_sums = sums[:3 * n * r].view(3, n, r)
                    col_sums = sums[3 * n * r:3 * (n * r + c)].view(3, c)
                    native.tile_stats(lib, tile[0], tile[1], c // n, inv_tau, row_sums, col_sums)
                else:
                    tile = buf[:3 * r * c].view(3, r, c)
                    _shifted_logits(A[g0:g1], A[c0:c1], inv_tau, out=tile[0])
                    _shifted_logits(Bt[g0:g1], Bt[c0:c1], inv_tau, out=tile[1])
                    torch.sub(tile[1], tile[0], out=tile[2])
                    tile[:2].exp_()
                    tile[2].mul_(tile[1])
                    row_sums = tile.view(3, r, n, c // n).sum(3).transpose(1, 2)
                    col_sums = tile.sum(1)
                acc[:, j:j + n, g0:g1] += row_sums
                # the transposed tile: rows c0:c1 of pair (j, i), the diagonal square aside
                acc[:, i, c0 + square:c1] += col_sums[:, square:]
                tile = None  # freed before the next tile's planes are allocated

        _run_workers(work, parts)
        sum_S, sum_T, wdiff = _sum_in_order(stats)
        # row KL = E_p[t - s] - logsumexp(t) + logsumexp(s); the shifts 1/tau cancel
        kl = wdiff / sum_T - sum_T.log() + sum_S.log()
        ctx.save_for_backward(a, b, torch.stack([sum_S, sum_T]))
        ctx.tau, ctx.tile, ctx.fused = tau, (rows, cols), lib is not None
        # float32 for half-precision input (as autocast's losses), else the input's dtype
        return (kl.sum() / (N * B * B)).to(torch.promote_types(a.dtype, torch.float32))

    @staticmethod
    @once_differentiable
    @_no_autocast
    def backward(ctx, grad_out: Tensor):
        a, b, sums = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        B, N, Cs = a.shape
        inv_tau = 1.0 / ctx.tau
        A = a.to(sums.dtype).reshape(B * N, -1).contiguous()
        Bt = b.to(sums.dtype).reshape(B * N, -1).contiguous()
        lib = native.usable(A) if ctx.fused else None
        (rows, cols), tiles, parts = _cross_image_plan(B, N, A.element_size(), A.device,
                                                       *ctx.tile, ctx.fused)
        # softmax(x)[g, k] = exp(x[g, k] - 1/tau) * u[g]; the scale folded into u = 1 / sum
        u = (grad_out.to(sums.dtype) * inv_tau / (N * B * B)) / sums  # (2, B, B·N)
        grads = [torch.zeros_like(A) for _ in parts]

        def work(w: int, part: List[int]) -> None:
            grad = grads[w]
            buf = A.new_empty(4 * rows * cols) if lib is None else None
            for k in part:
                g0, g1, c0, c1, square = tiles[k]
                r, c, i = g1 - g0, c1 - c0, g0 // N
                j, n = _segments(c0, c1, N)
                # H[g, k] = G_ij[g, k] + G_ji[k, g]: the rows' weights (pair (i, j)) plus the
                # columns' (pair (j, i)); the diagonal square counts once, with its rows'
                u_rows = u[:, j:j + n, g0:g1]  # (2, n, r)
                u_cols = u[:, i, c0:c1]
                if square:
                    u_cols = torch.cat([u_cols.new_zeros(2, square), u_cols[:, square:]], 1)
                if lib is not None:
                    tile = (native.gemm_nt(A[g0:g1], A[c0:c1]),
                            native.gemm_nt(Bt[g0:g1], Bt[c0:c1]))
                    h = native.tile_weights(lib, tile[0], tile[1], c // n, inv_tau,
                                            u_rows.contiguous(), u_cols.contiguous())
                else:
                    tile, weight = buf[:4 * r * c].view(2, 2, r, c)
                    _shifted_logits(A[g0:g1], A[c0:c1], inv_tau, out=tile[0])
                    _shifted_logits(Bt[g0:g1], Bt[c0:c1], inv_tau, out=tile[1])
                    tile.exp_()  # exp(S), exp(T)
                    torch.add(u_rows.transpose(1, 2)[..., None], u_cols.view(2, 1, n, c // n),
                              out=weight.view(2, r, n, c // n))
                    tile.mul_(weight)
                    h = tile[0].sub_(tile[1])
                # S = A A^T: dA[rows] += H A[cols], dA[cols] += H^T A[rows]
                grad[g0:g1].addmm_(h, A[c0:c1])
                grad[c0:c1].addmm_(h.t(), A[g0:g1])
                tile = h = None  # freed before the next tile's planes are allocated

        _run_workers(work, parts)
        grad = _sum_in_order(grads).view(B, N, Cs)
        return grad.to(a.dtype), None, None, None, None


@MODELS.register_module()
class CrossImagePixelLoss(nn.Module):
    """Mini-batch cross-image pixel-to-pixel relation distillation.

    As the reference's ``CriterionMiniBatchCrossImagePair``: features are (optionally)
    2x2 average-pooled (``ceil_mode=True``) and L2-normalised over channels; for every ordered
    pair of images (i, j), i == j included, the hw x hw similarity maps ``S_ij = f_i f_j^T`` of
    the student and of the teacher are compared by the row KL
    ``KL(softmax(T_ij / tau) || softmax(S_ij / tau))`` averaged over the hw rows; the pair losses
    are summed and divided by B². The teacher gets no gradient.

    The maps are never stored: see :class:`_CrossImageRelationKL` (memory O(B·hw·C), each
    unordered pair of images visited once per pass).

    Args:
        temperature (float): similarity temperature tau (the reference's 0.1).
        pooling (bool): 2x2 average pooling before the relations (the reference's default is
            False).
        loss_weight (float): factor applied to the loss.
        block_rows (int, optional): rows (pixels of one image) per tile of the relation
            matrices; None: chosen at run time (on CPU 512 with the fused passes, else 256;
            2048 on CUDA; at most hw).
        block_cols (int, optional): columns per tile (at least ``block_rows``; more than hw
            takes whole images at once); None: chosen at run time from the free memory (2 MiB
            of tile buffers per CPU thread with the fused passes, 6 MiB without, up to 256 MiB
            on CUDA).
    """

    def __init__(self,
                 temperature: float = 0.1,
                 pooling: bool = False,
                 loss_weight: float = 1.0,
                 block_rows: Optional[int] = None,
                 block_cols: Optional[int] = None):
        super().__init__()
        _check_temperature('temperature', temperature)
        for name, value in (('block_rows', block_rows), ('block_cols', block_cols)):
            if value is not None and value < 1:
                raise ValueError(f'{name} must be >= 1 or None (chosen at run time), got {value}')
        self.temperature = temperature
        self.pooling = pooling
        self.loss_weight = loss_weight
        self.block_rows = block_rows
        self.block_cols = block_cols

    def forward(self, feat_S: Tensor, feat_T: Tensor) -> Tensor:
        """feat_S: (B, Cs, h, w), feat_T: (B, Ct, h, w) (detached) -> scalar.

        Channel counts may differ; batch and spatial sizes must match.
        """
        if (feat_S.dim() != 4 or feat_T.dim() != 4 or feat_S.shape[0] != feat_T.shape[0]
                or feat_S.shape[2:] != feat_T.shape[2:]):
            raise ValueError(f'CrossImagePixelLoss needs feat_S (B, Cs, h, w) and feat_T '
                             f'(B, Ct, h, w) of the same batch and spatial size, got feat_S '
                             f'{tuple(feat_S.shape)} and feat_T {tuple(feat_T.shape)}')
        # half-precision input (autocast) is normalised and related in float32
        feat_S = feat_S.to(torch.promote_types(feat_S.dtype, torch.float32))
        feat_T = feat_T.detach().to(torch.promote_types(feat_T.dtype, torch.float32))
        if self.pooling:
            feat_S = F.avg_pool2d(feat_S, kernel_size=2, stride=2, ceil_mode=True)
            feat_T = F.avg_pool2d(feat_T, kernel_size=2, stride=2, ceil_mode=True)
        # (B, C, h, w) -> (B, hw, C) contiguous, normalised to unit rows (along the contiguous
        # rows: over the channels of (B, C, h, w) the backward ran on a permuted gradient, and
        # the kernel copied the rows in forward and again in backward)
        a = F.normalize(feat_S.flatten(2).transpose(1, 2).contiguous(), p=2, dim=2)
        b = F.normalize(feat_T.flatten(2).transpose(1, 2).contiguous(), p=2, dim=2)
        loss = _CrossImageRelationKL.apply(a, b, self.temperature, self.block_rows,
                                           self.block_cols)
        return self.loss_weight * loss


# ------------------------------------------------------------------ memory relations


class _AnchorRelationKL(torch.autograd.Function):
    """Row KL of anchor-to-negative relations, for several groups of negatives at once.

    ``s`` (M, C) student anchors (unit rows, with grad), ``t`` (M, C) teacher anchors (unit
    rows), ``neg`` (N, C) unit negatives, the concatenation of groups of ``sizes`` rows. For
    group g: ``loss[g] = kd_T² · rowKL(t neg_g^T / tau, s neg_g^T / tau)`` with the softmaxes
    at temperature ``kd_T``, i.e. effective temperature ``tau·kd_T``. Returns (G,) losses.

    The anchors are processed in blocks of ``block`` rows (None: chosen at run time from
    N and the free memory), each against all N negatives, without building a graph; the
    blocks are split between the CPU workers (disjoint rows: shared outputs). A block's logits
    are computed transposed, (N, rows): negatives by anchors, which CPU GEMMs compute about
    1.6x faster than (rows, N) at these shapes (few anchors, thousands of negatives; measured
    with ``tools/benchmark_cirkd.py --items memory``). Because the negatives are few and
    fixed, the gradient of each block costs one product with them: it is accumulated during
    forward (when ``need_grad``) and backward only scales it, which saves recomputing both
    logit blocks.
    """

    @staticmethod
    @_no_autocast
    def forward(ctx, s: Tensor, t: Tensor, neg: Tensor, sizes: Tuple[int, ...], tau: float,
                kd_T: float, block: Optional[int], need_grad: bool) -> Tensor:
        M, C = s.shape
        K, G = neg.shape[0], len(sizes)
        inv_tau = 1.0 / (tau * kd_T)
        dtype = _compute_dtype(s.dtype, inv_tau)
        s32, t32, n32 = s.to(dtype), t.to(dtype), neg.to(dtype).contiguous()
        bounds = [0]
        for size in sizes:
            bounds.append(bounds[-1] + size)
        workers = _num_workers(s.device, M)
        lib = native.usable(s32)
        planes = 2 if lib is not None else 3
        if block is None:
            budget = _tile_budget(s.device, workers, _ANCHOR_TILE_BYTES)
            block = min(_ANCHOR_ROWS.get(s.device.type, M),
                        budget // (planes * K * n32.element_size()))
        block = max(1, min(block, M))
        starts = list(range(0, M, block))
        parts = _partition([min(block, M - r0) for r0 in starts], min(workers, len(starts)))
        stats = s32.new_empty(3, G, M)  # per group and row: sum exp(s), sum exp(t), wdiff
        grads = s32.new_empty(G, M, C) if need_grad else None
        grad_scale = kd_T * kd_T * inv_tau / M

        def work(w: int, part: List[int]) -> None:
            # the torch passes' planes (the fused passes' come from native.gemm_nt)
            buf = s32.new_empty(planes * block * K) if lib is None else None
            if lib is not None:  # the fused passes' per-anchor and per-negative (unused) sums
                sums, neg_sums = s32.new_empty(3 * block), s32.new_empty(3 * K)
                zeros = s32.new_zeros(2 * K)  # the negatives' weights
            for k in part:
                r0 = starts[k]
                r1 = min(r0 + block, M)
                r = r1 - r0
                # transposed: raw products (fused), exp(s), exp(t), exp(t) (t - s) (torch)
                if lib is not None:
                    tile = native.gemm_nt(n32, s32[r0:r1]), native.gemm_nt(n32, t32[r0:r1])
                    for g in range(G):
                        k0, k1 = bounds[g], bounds[g + 1]
                        native.tile_stats(lib, tile[0][k0:k1], tile[1][k0:k1], r, inv_tau,
                                          neg_sums[:3 * (k1 - k0)].view(3, 1, k1 - k0),
                                          sums[:3 * r].view(3, r))
                        stats[:, g, r0:r1] = sums[:3 * r].view(3, r)
                else:
                    tile = buf[:planes * K * r].view(planes, K, r)
                    _shifted_logits(n32, s32[r0:r1], inv_tau, out=tile[0])
                    _shifted_logits(n32, t32[r0:r1], inv_tau, out=tile[1])
                    torch.sub(tile[1], tile[0], out=tile[2])
                    tile[:2].exp_()
                    tile[2].mul_(tile[1])
                    for g in range(G):
                        torch.sum(tile[:, bounds[g]:bounds[g + 1]], 1, out=stats[:, g, r0:r1])
                if need_grad:
                    # d loss / d logits = kd_T² (q - p) / (kd_T M); logits = s neg^T / tau
                    u = grad_scale / stats[:2, :, r0:r1]
                    for g in range(G):
                        k0, k1 = bounds[g], bounds[g + 1]
                        if lib is not None:
                            native.tile_weights(lib, tile[0][k0:k1], tile[1][k0:k1], r, inv_tau,
                                                zeros[:2 * (k1 - k0)].view(2, 1, k1 - k0),
                                                u[:, g].contiguous())
                        else:
                            tile[:2, k0:k1].mul_(u[:, g, None])
                    q_minus_p = tile[0] if lib is not None else tile[0].sub_(tile[1])
                    for g in range(G):
                        torch.mm(q_minus_p[bounds[g]:bounds[g + 1]].t(),
                                 n32[bounds[g]:bounds[g + 1]], out=grads[g, r0:r1])
                tile = q_minus_p = None  # freed before the next block's planes are allocated

        _run_workers(work, parts)
        sum_S, sum_T, wdiff = stats
        losses = (wdiff / sum_T - sum_T.log() + sum_S.log()).sum(1)
        ctx.save_for_backward(grads if need_grad else None)
        ctx.in_dtype = s.dtype
        return (losses * (kd_T * kd_T / M)).to(torch.promote_types(s.dtype, torch.float32))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        (grads, ) = ctx.saved_tensors
        if grads is None:
            raise RuntimeError('_AnchorRelationKL was run with need_grad=False')
        grad_s = torch.einsum('g,gmc->mc', grad_out.to(grads.dtype), grads)
        return grad_s.to(ctx.in_dtype), None, None, None, None, None, None, None


@MODELS.register_module()
class CIRKDMemoryLoss(nn.Module):
    """Memory-based pixel-to-pixel and pixel-to-region relation distillation.

    As the reference's ``StudentSegContrast``. One module holds both losses because they share
    the student projection head, the anchors and the queue update. Per forward:

    1. teacher features are L2-normalised (and detached); student features go through the
       projection head (1x1 conv Cs->Ct, norm, ReLU, 1x1 conv Ct->Ct) and are L2-normalised;
    2. labels are nearest-downsampled to (h, w);
    3. the queues are updated with the teacher features and labels of the batch (gathered from
       all ranks under distributed training), before the negatives are drawn, as the
       reference does: per image and per class present, the region queue gets the L2-normalised
       mean of the class's (normalised) teacher features, the pixel queue up to
       ``pixels_per_class`` randomly chosen teacher features of the class;
    4. negatives: ``pixel_contrast_size // K + 1`` pixels and ``region_contrast_size // K + 1``
       regions per class, one random index set (shared by all classes) per queue;
    5. anchors are all non-ignored pixels; for each queue, logits are
       ``anchor . negative / contrast_temperature`` for the student and for the teacher, and the
       loss is ``KL(softmax(t / kd_T) || softmax(s / kd_T)) * kd_T²``, averaged over anchors.

    Queues and pointers are buffers (they go into checkpoints). All random draws come from the
    module's own CPU generator, seeded with ``seed`` and saved with the state dict, so resuming
    reproduces them, and under distributed training every rank draws the same negatives (the
    queue update works on the gathered batch, identical on all ranks). A batch whose pixels are
    all ignored updates no queue, still draws its negatives (the reference returns before
    drawing; drawing keeps the ranks' generators in step) and returns zero losses attached to
    the student graph (the reference returns NaN there: the mean of an empty tensor).

    Args:
        num_classes (int): K.
        student_channels (int): Cs, channels of ``feat_S``.
        teacher_channels (int): Ct, channels of ``feat_T`` (and of the queues).
        pixel_memory_size (int): pixel queue length per class, >= ``pixels_per_class``.
        region_memory_size (int): region queue length per class (one region per class and
            image is enqueued).
        pixel_contrast_size (int): pixel negatives in all (``// K + 1`` per class, at most
            ``pixel_memory_size``).
        region_contrast_size (int): region negatives in all (``// K + 1`` per class, at most
            ``region_memory_size``).
        pixels_per_class (int): pixels enqueued per image and class.
        contrast_temperature (float): similarity temperature (0.1).
        kd_temperature (float): temperature of the relation distributions' KD (1.0).
        ignore_index (int): label of ignored pixels.
        sample_within_class (bool): enqueue pixels of the class. False reproduces the
            reference's bug (it draws the pixel indices from the whole image); for parity
            checks only.
        norm_cfg (dict): norm of the projection head (``SyncBN`` under distributed training).
        pixel_weight (float): factor of the pixel-to-pixel loss.
        region_weight (float): factor of the pixel-to-region loss.
        seed (int): seed of the module's generator.
        block_rows (int, optional): anchors processed per block (each against all the
            negatives); None: chosen at run time from the number of negatives and the free
            memory (on CPU up to 384 anchors and 24 MiB of block buffers per thread, up to
            256 MiB on CUDA).

    In a :class:`~mcl_mm.SegDistiller`, ``student_channels`` and ``teacher_channels`` may be
    left out of the config: they are read from the modules recorded for ``feat_S`` and
    ``feat_T`` (``channel_args``).
    """
    channel_args = dict(feat_S='student_channels', feat_T='teacher_channels')

    def __init__(self,
                 num_classes: int,
                 student_channels: int,
                 teacher_channels: int,
                 pixel_memory_size: int = 20000,
                 region_memory_size: int = 2000,
                 pixel_contrast_size: int = 4096,
                 region_contrast_size: int = 1024,
                 pixels_per_class: int = 16,
                 contrast_temperature: float = 0.1,
                 kd_temperature: float = 1.0,
                 ignore_index: int = 255,
                 sample_within_class: bool = True,
                 norm_cfg: Optional[dict] = None,
                 pixel_weight: float = 0.1,
                 region_weight: float = 0.1,
                 seed: int = 0,
                 block_rows: Optional[int] = None):
        super().__init__()
        for name, value in (('num_classes', num_classes), ('student_channels', student_channels),
                            ('teacher_channels', teacher_channels),
                            ('pixel_memory_size', pixel_memory_size),
                            ('region_memory_size', region_memory_size),
                            ('pixels_per_class', pixels_per_class),
                            ('block_rows', 1 if block_rows is None else block_rows)):
            if int(value) < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        # a class's pixel queue takes up to pixels_per_class features of an image at once (one
        # contiguous run; when it does not fit after the pointer, the last pixels_per_class
        # slots): a shorter queue would spill the run into the neighbouring classes' queues
        if pixel_memory_size < pixels_per_class:
            raise ValueError(f'pixel_memory_size={pixel_memory_size} is smaller than '
                             f'pixels_per_class={pixels_per_class}: the pixel queue of a class '
                             'must hold the pixels enqueued per class and image '
                             '(pixel_memory_size >= pixels_per_class)')
        # the region queue takes one region per class and image, slot by slot (any size >= 1);
        # the negatives are the first contrast_size // num_classes + 1 of a permutation of a
        # queue's slots: a shorter queue would silently give fewer negatives than asked for
        for queue, size, contrast in (('pixel', pixel_memory_size, pixel_contrast_size),
                                      ('region', region_memory_size, region_contrast_size)):
            if int(contrast) < 0:
                raise ValueError(f'{queue}_contrast_size must be >= 0, got {contrast}')
            per_class = contrast // num_classes + 1
            if per_class > size:
                raise ValueError(
                    f'{queue}_contrast_size={contrast} draws {queue}_contrast_size // '
                    f'num_classes + 1 = {per_class} negatives per class, more than '
                    f'{queue}_memory_size={size} slots: expected {queue}_memory_size >= '
                    f'{per_class} or {queue}_contrast_size < {size * num_classes}')
        if not kd_temperature > 0:
            raise ValueError(f'kd_temperature must be > 0, got {kd_temperature}')
        _check_temperature('contrast_temperature * kd_temperature',
                           contrast_temperature * kd_temperature)
        self.num_classes = num_classes
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels
        self.pixel_memory_size = pixel_memory_size
        self.region_memory_size = region_memory_size
        self.pixel_contrast_size = pixel_contrast_size
        self.region_contrast_size = region_contrast_size
        self.pixels_per_class = pixels_per_class
        self.contrast_temperature = contrast_temperature
        self.kd_temperature = kd_temperature
        self.ignore_index = ignore_index
        self.sample_within_class = sample_within_class
        self.pixel_weight = pixel_weight
        self.region_weight = region_weight
        self.block_rows = block_rows

        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        self.project_head = nn.Sequential(
            nn.Conv2d(student_channels, teacher_channels, 1, bias=False),
            build_norm_layer(norm_cfg, teacher_channels)[1],
            nn.ReLU(inplace=True),
            nn.Conv2d(teacher_channels, teacher_channels, 1, bias=False))

        self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        self.register_buffer('pixel_queue',
                             self._random_unit_rows(pixel_memory_size, teacher_channels))
        self.register_buffer('region_queue',
                             self._random_unit_rows(region_memory_size, teacher_channels))
        self.register_buffer('pixel_queue_ptr', torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('region_queue_ptr', torch.zeros(num_classes, dtype=torch.long))

    def _random_unit_rows(self, size: int, channels: int) -> Tensor:
        """(K, size, C) standard normal rows, L2-normalised in place (no full-size temporary)."""
        queue = torch.empty(self.num_classes, size, channels)
        queue.normal_(generator=self.generator)
        return queue.div_(queue.norm(dim=2, keepdim=True).clamp_min_(1e-12))

    # the generator's state travels with the state dict
    def get_extra_state(self) -> Tensor:
        # a plain tensor: mmengine broadcasts every state_dict entry across ranks at start
        return self.generator.get_state()

    def set_extra_state(self, state: Tensor) -> None:
        self.generator.set_state(state.cpu())

    def _check_inputs(self, feat_S: Tensor, feat_T: Tensor, gt_sem_seg: Tensor) -> Tensor:
        for arg, feat, name, expected in (('feat_S', feat_S, 'student_channels',
                                           self.student_channels),
                                          ('feat_T', feat_T, 'teacher_channels',
                                           self.teacher_channels)):
            if feat.dim() != 4:
                raise ValueError(f'{arg} must be (B, C, h, w), got {tuple(feat.shape)}')
            if feat.shape[1] != expected:
                raise ValueError(f'{arg} has {feat.shape[1]} channels but CIRKDMemoryLoss was '
                                 f'built with {name}={expected}')
        if feat_S.shape[0] != feat_T.shape[0] or feat_S.shape[2:] != feat_T.shape[2:]:
            raise ValueError(f'feat_S {tuple(feat_S.shape)} and feat_T {tuple(feat_T.shape)} '
                             'must have the same batch and spatial size')
        if gt_sem_seg.dim() == 4 and gt_sem_seg.shape[1] == 1:
            gt_sem_seg = gt_sem_seg.squeeze(1)
        if gt_sem_seg.dim() != 3 or gt_sem_seg.shape[0] != feat_S.shape[0]:
            raise ValueError(f'gt_sem_seg must be (B, H, W) with B={feat_S.shape[0]}, got '
                             f'{tuple(gt_sem_seg.shape)}')
        gt_sem_seg = gt_sem_seg.long()
        bad = (gt_sem_seg != self.ignore_index) & ((gt_sem_seg < 0) |
                                                   (gt_sem_seg >= self.num_classes))
        if bad.any():
            values = torch.unique(gt_sem_seg[bad]).tolist()
            raise ValueError(f'gt_sem_seg has label values {values[:20]} outside [0, '
                             f'{self.num_classes}) that are not ignore_index='
                             f'{self.ignore_index}')
        return gt_sem_seg

    def forward(self, feat_S: Tensor, feat_T: Tensor, gt_sem_seg: Tensor) -> Dict[str, Tensor]:
        """Memory-based relation losses.

        Args:
            feat_S (Tensor): (B, Cs, h, w) student features.
            feat_T (Tensor): (B, Ct, h, w) teacher features (detached here).
            gt_sem_seg (Tensor): (B, H, W) (or (B, 1, H, W)) integer labels at input
                resolution, ``ignore_index`` for ignored pixels.

        Returns:
            dict: ``pixel`` and ``region``, the weighted scalar losses.
        """
        labels = self._check_inputs(feat_S, feat_T, gt_sem_seg)
        B, _, h, w = feat_S.shape
        C = self.teacher_channels
        # features as pixel rows (B·h·w, C), L2-normalised along their contiguous rows: over
        # the channels of (B, C, h, w) the normalisation's backward ran on a permuted gradient,
        # several times slower
        keys = feat_T.detach().to(self.pixel_queue.dtype).permute(0, 2, 3, 1).reshape(-1, C)
        keys = F.normalize(keys, p=2, dim=1)
        proj = self.project_head(feat_S)
        proj = proj.to(torch.promote_types(proj.dtype, torch.float32))
        proj = proj.permute(0, 2, 3, 1).reshape(-1, C)
        labels = nearest_labels(labels, (h, w)).long()

        # (B, C, h, w) view of the rows
        self._dequeue_and_enqueue(keys.view(B, h, w, C).permute(0, 3, 1, 2), labels)
        negatives, sizes = self._sample_negatives()

        valid = labels.reshape(-1) != self.ignore_index
        s = F.normalize(proj[valid], p=2, dim=1)
        t = keys[valid]
        if s.shape[0] == 0:
            # no anchor: zero losses that keep the student and the head in the graph
            return dict(pixel=proj.sum() * 0., region=proj.sum() * 0.)
        need_grad = torch.is_grad_enabled() and s.requires_grad
        losses = _AnchorRelationKL.apply(s, t, negatives, sizes, self.contrast_temperature,
                                         self.kd_temperature, self.block_rows, need_grad)
        return dict(pixel=self.pixel_weight * losses[0], region=self.region_weight * losses[1])

    @torch.no_grad()
    def _sample_negatives(self) -> Tuple[Tensor, Tuple[int, int]]:
        """(K·n_pixel + K·n_region, Ct) negatives, class-major per queue, and the two counts.

        One index set per queue, shared by all classes: the first n of a random permutation of
        the queue length (the pixel queue's drawn first), as the reference.
        """
        out, sizes = [], []
        for queue, contrast_size in ((self.pixel_queue, self.pixel_contrast_size),
                                     (self.region_queue, self.region_contrast_size)):
            n = contrast_size // self.num_classes + 1
            index = torch.randperm(queue.shape[1], generator=self.generator)[:n]
            picked = queue[:, index.to(queue.device)].reshape(-1, queue.shape[2])
            out.append(picked)
            sizes.append(picked.shape[0])
        return torch.cat(out), tuple(sizes)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys: Tensor, labels: Tensor) -> None:
        """Push the batch's teacher features into the queues.

        Args:
            keys (Tensor): (B, Ct, h, w) L2-normalised teacher features.
            labels (Tensor): (B, h, w) labels at feature resolution.
        """
        if dist.get_world_size() > 1:
            keys = torch.cat(dist.all_gather(keys.contiguous()))
            labels = torch.cat(dist.all_gather(labels.contiguous()))
        B, C = keys.shape[:2]
        K, ignore = self.num_classes, self.ignore_index
        keys = keys.permute(0, 2, 3, 1).reshape(-1, C)  # (B·hw, C)
        labels = labels.reshape(B, -1)
        hw = labels.shape[1]
        # group of each pixel: (image, class), ignored pixels in an extra class K
        group = torch.where(labels == ignore, torch.full_like(labels, K), labels)
        group = group + (K + 1) * torch.arange(B, device=labels.device)[:, None]
        counts = torch.bincount(group.reshape(-1), minlength=B * (K + 1))
        region_feat = keys.new_zeros(B * (K + 1), C).index_add_(0, group.reshape(-1), keys)
        region_feat = F.normalize(region_feat / counts.clamp_min(1)[:, None], p=2, dim=1)
        # pixels of each image sorted by class, positions increasing within a class
        order = torch.argsort(group, dim=1, stable=True) + hw * torch.arange(
            B, device=labels.device)[:, None]
        counts = counts.view(B, K + 1).tolist()

        region_ptr = self.region_queue_ptr.tolist()
        pixel_ptr = self.pixel_queue_ptr.tolist()
        region_src, region_dst, pixel_src, pixel_dst = [], [], [], []
        for b in range(B):
            start = b * hw
            for c in range(K):
                n = counts[b][c]
                if n == 0:
                    continue
                region_src.append(b * (K + 1) + c)
                region_dst.append(c * self.region_memory_size + region_ptr[c])
                region_ptr[c] = (region_ptr[c] + 1) % self.region_memory_size

                k = min(n, self.pixels_per_class)
                pick = torch.randperm(n, generator=self.generator)[:k]
                # within class: positions in ``order`` (the class's pixels); the reference's
                # bug: positions in the image, whatever their class
                pixel_src.append(pick + (start if self.sample_within_class else b * hw))
                ptr = pixel_ptr[c]
                if ptr + k >= self.pixel_memory_size:
                    first, pixel_ptr[c] = self.pixel_memory_size - k, 0
                else:
                    first, pixel_ptr[c] = ptr, ptr + k
                pixel_dst.append(torch.arange(first, first + k) + c * self.pixel_memory_size)
                start += n

        if region_src:
            src, dst = _last_writes(torch.tensor(region_src), torch.tensor(region_dst))
            self.region_queue.view(-1, C)[dst.to(keys.device)] = region_feat[src.to(
                keys.device)].to(self.region_queue.dtype)
            src, dst = _last_writes(torch.cat(pixel_src), torch.cat(pixel_dst))
            src = src.to(keys.device)
            if self.sample_within_class:
                src = order.reshape(-1)[src]
            self.pixel_queue.view(-1, C)[dst.to(keys.device)] = F.normalize(
                keys[src], p=2, dim=1).to(self.pixel_queue.dtype)
        self.region_queue_ptr.copy_(torch.tensor(region_ptr))
        self.pixel_queue_ptr.copy_(torch.tensor(pixel_ptr))


def _last_writes(src: Tensor, dst: Tensor) -> Tuple[Tensor, Tensor]:
    """Keep, for each destination written several times, only its last write (sequential
    semantics for one vectorised scatter). src, dst: (W,) -> (W',), (W',)."""
    if dst.numel() == torch.unique(dst).numel():
        return src, dst
    rev = torch.flip(dst, [0])
    uniq, inverse = torch.unique(rev, return_inverse=True)
    first = torch.full((uniq.numel(), ), rev.numel(), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(rev.numel()), reduce='amin')
    keep = rev.numel() - 1 - first
    return src[keep], dst[keep]
