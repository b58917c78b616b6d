"""Fused element-wise passes of the CIRKD relation tiles (``relation_tiles.c``), on CPU.

The C file is compiled on first use with the system's C compiler (``$CC``, default ``cc``;
about a second) into a cache folder, ``$MCL_MM_KERNEL_DIR`` or ``~/.cache/mcl_mm/kernels``
(``$XDG_CACHE_HOME`` is honoured), named by a hash of the source and the flags, and loaded
with :mod:`ctypes` (its calls release the GIL, so the losses' worker threads run them in
parallel). ``-mavx2 -mfma`` are added where the CPU has both. Where no compiler works, or with
``MCL_MM_NATIVE_KERNELS=0``, :func:`kernels` returns None and the losses run the same passes
as torch operations (one warning is logged). Processes that start together (DDP) may compile
at the same time: each writes its own file and renames it into place.

Only float32 tiles on CPU use them; float64 (small temperatures) and CUDA use torch.

The tiles' products come from :func:`gemm_nt`: oneDNN's float32 GEMM where torch has it
(``MCL_MM_ONEDNN_GEMM=0`` turns it off), else ``torch.mm``.
"""
import ctypes
import hashlib
import logging
import os
import platform
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

SOURCE = Path(__file__).with_name('relation_tiles.c')
_P, _I, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
_lock = threading.Lock()
_state: dict = {}


def _cpu_flags() -> set:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def _compile_flags() -> list:
    flags = ['-O3', '-std=gnu11', '-shared', '-fPIC']
    if platform.machine() in ('x86_64', 'AMD64') and {'avx2', 'fma'} <= _cpu_flags():
        flags += ['-mavx2', '-mfma']
    return flags


def _cache_dir() -> Path:
    if os.environ.get('MCL_MM_KERNEL_DIR'):
        return Path(os.environ['MCL_MM_KERNEL_DIR'])
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'mcl_mm' / 'kernels'


def _build() -> ctypes.CDLL:
    """Compile (unless cached) and load the library; raises on any failure."""
    cc = os.environ.get('CC', 'cc')
    flags = _compile_flags()
    key = hashlib.sha256(SOURCE.read_bytes() + ' '.join([cc] + flags).encode()).hexdigest()
    folder = _cache_dir()
    path = folder / f'relation_tiles_{key[:16]}.so'
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix='.so', dir=folder)
        os.close(fd)
        try:
            subprocess.run([cc, *flags, '-o', tmp, str(SOURCE)], check=True,
                           capture_output=True, text=True, timeout=300)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    lib = ctypes.CDLL(str(path))
    lib.relation_tile_stats.argtypes = [_P, _P, _I, _I, _I, _I, _F, _P, _P]
    lib.relation_tile_stats.restype = None
    lib.relation_tile_weights.argtypes = [_P, _P, _I, _I, _I, _I, _F, _P, _P]
    lib.relation_tile_weights.restype = None
    return lib


def kernels() -> Optional[ctypes.CDLL]:
    """The loaded library, or None (disabled by ``MCL_MM_NATIVE_KERNELS=0`` or not built)."""
    if os.environ.get('MCL_MM_NATIVE_KERNELS', '1') == '0':
        return None
    with _lock:
        if 'lib' not in _state:
            try:
                _state['lib'] = _build()
            except Exception as e:  # no compiler, read-only cache, ...: torch operations
                _state['lib'] = None
                detail = getattr(e, 'stderr', '') or e
                from mmengine.logging import print_log
                print_log(f'mcl_mm: the fused CIRKD relation kernels ({SOURCE.name}) could not '
                          f'be built or loaded ({type(e).__name__}: {detail}); the CIRKD '
                          'losses run their tiles as torch operations instead (slower on CPU). '
                          'Set $CC to a working C compiler, or MCL_MM_KERNEL_DIR to a writable '
                          'folder.', logger='current', level=logging.WARNING)
        return _state['lib']


def usable(x: Tensor) -> Optional[ctypes.CDLL]:
    """The library if tiles of ``x``'s dtype and device can use it, else None."""
    if x.device.type != 'cpu' or x.dtype != torch.float32:
        return None
    return kernels()


def onednn_gemm() -> bool:
    """Whether :func:`gemm_nt` uses oneDNN: torch has ``mkldnn::_linear_pointwise`` and it
    agrees with ``torch.mm`` on a small product (checked once); ``MCL_MM_ONEDNN_GEMM=0`` turns
    it off."""
    if os.environ.get('MCL_MM_ONEDNN_GEMM', '1') == '0':
        return False
    if 'onednn' not in _state:
        with _lock:
            if 'onednn' not in _state:
                _state['onednn'] = _probe_onednn()
    return _state['onednn']


def _probe_onednn() -> bool:
    try:
        # fixed values (the global random generator is left alone)
        x = torch.arange(24, dtype=torch.float32).view(6, 4).sin()
        y = torch.arange(12, dtype=torch.float32).view(3, 4).cos()
        out = torch.ops.mkldnn._linear_pointwise(x, y, None, 'none', [], '')
        return bool(torch.backends.mkldnn.is_available() and out.shape == (6, 3)
                    and torch.allclose(out, x @ y.t(), rtol=1e-5, atol=1e-6))
    except Exception:  # an older or different torch build: torch.mm
        return False


def gemm_nt(x: Tensor, y: Tensor) -> Tensor:
    """``x @ y.T`` as a new (m, n) tensor, for float32 CPU matrices x (m, k), y (n, k) with
    contiguous rows.

    Through oneDNN's GEMM where :func:`onednn_gemm` allows (the op torch's CPU compiler uses
    for linear layers; full float32, like ``torch.mm``): at the relation tiles' shapes it ran
    faster on the 2-core EPYC than MKL's sgemm behind ``torch.mm`` (the CIRKD loss stack
    0.974x the time at 1 thread, 0.868x at 2; configs/cirkd/README.md). Else ``torch.mm``.
    """
    if onednn_gemm() and not torch.compiler.is_compiling():
        # (torch.compile's CPU lowering takes this op for frozen weights only and fails on
        # others: a config's compile=True traces torch.mm instead)
        return torch.ops.mkldnn._linear_pointwise(x, y, None, 'none', [], '')
    return torch.mm(x, y.t())


def _check(t: Tensor, rows: int, cols: int) -> int:
    if t.dtype != torch.float32 or t.device.type != 'cpu' or t.dim() != 2 or (
            tuple(t.shape) != (rows, cols)) or t.stride(1) != 1:
        raise ValueError(f'relation tile kernels need ({rows}, {cols}) float32 CPU tiles with '
                         f'contiguous rows, got {t.dtype} {tuple(t.shape)} strides {t.stride()}')
    return t.stride(0)


def tile_stats(lib: ctypes.CDLL, S: Tensor, T: Tensor, seg: int, inv_tau: float,
               row_out: Tensor, col_out: Tensor) -> None:
    """Softmax sums of the shifted logit tiles ``S / tau - 1 / tau``, ``T / tau - 1 / tau``.

    S, T: (r, c) raw dot products (rows contiguous, same stride), columns in segments of
    ``seg`` (c a multiple of seg). Writes ``row_out`` (3, c // seg, r): per row and segment
    the sums of exp(s), exp(t) and exp(t) (t - s); ``col_out`` (3, c): the same per column.
    S and T are only read.
    """
    r, c = S.shape
    ld = _check(S, r, c)
    if _check(T, r, c) != ld or c % seg or not row_out.is_contiguous() or not (
            col_out.is_contiguous()) or row_out.shape != (3, c // seg, r) or (
            col_out.shape != (3, c)):
        raise ValueError('tile_stats: mismatched tiles or outputs')
    lib.relation_tile_stats(S.data_ptr(), T.data_ptr(), r, c, ld, seg, inv_tau,
                            row_out.data_ptr(), col_out.data_ptr())


def tile_weights(lib: ctypes.CDLL, S: Tensor, T: Tensor, seg: int, inv_tau: float,
                 u_row: Tensor, u_col: Tensor) -> Tensor:
    """``exp(s) (u_row[0] + u_col[0]) - exp(t) (u_row[1] + u_col[1])`` into S (returned).

    S, T as in :func:`tile_stats`; ``u_row`` (2, c // seg, r) per row and segment,
    ``u_col`` (2, c) per column.
    """
    r, c = S.shape
    ld = _check(S, r, c)
    if _check(T, r, c) != ld or c % seg or not u_row.is_contiguous() or not (
            u_col.is_contiguous()) or u_row.shape != (2, c // seg, r) or u_col.shape != (2, c):
        raise ValueError('tile_weights: mismatched tiles or weights')
    lib.relation_tile_weights(S.data_ptr(), T.data_ptr(), r, c, ld, seg, inv_tau,
                              u_row.data_ptr(), u_col.data_ptr())
    return S
