"""The fused C passes of the CIRKD relation tiles (mcl_mm/models/losses/native.py): built on
first use, equal to the torch passes they replace, and a clean fallback to those without a
compiler. (tests/conftest.py points MCL_MM_KERNEL_DIR at a temporary folder.)"""
import logging
import os
import shutil

import pytest
import torch
import torch.nn.functional as F

from mcl_mm.models.losses import CIRKDMemoryLoss, CrossImagePixelLoss, native
from mcl_mm.models.losses.cirkd_loss import _AnchorRelationKL

pytestmark = [
    pytest.mark.usefixtures('one_thread'),
    pytest.mark.skipif(shutil.which(os.environ.get('CC', 'cc')) is None,
                       reason='no C compiler: the torch passes run instead (tested below)'),
]


@pytest.fixture
def fresh_build(monkeypatch, tmp_path):
    """An empty kernel cache and no library loaded; restored afterwards."""
    monkeypatch.setenv('MCL_MM_KERNEL_DIR', str(tmp_path / 'kernels'))
    monkeypatch.setattr(native, '_state', {})
    return tmp_path / 'kernels'


def unit(*shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1).to(dtype)


def test_builds_once_into_the_cache(fresh_build):
    lib = native.kernels()
    assert lib is not None
    built = list(fresh_build.glob('relation_tiles_*.so'))
    assert len(built) == 1
    mtime = built[0].stat().st_mtime_ns
    native._state.clear()  # a new process: loads the cached file, does not compile again
    assert native.kernels() is not None
    assert [p.stat().st_mtime_ns for p in fresh_build.glob('*.so')] == [mtime]
    assert native.usable(torch.zeros(1)) is not None
    assert native.usable(torch.zeros(1, dtype=torch.float64)) is None


@pytest.mark.parametrize('r,c,seg', [(13, 37, 37), (8, 48, 16), (5, 3, 1), (1, 8, 8), (9, 30, 10)])
@pytest.mark.parametrize('inv_tau', [10.0, 40.0])
def test_tile_passes_equal_float64(r, c, seg, inv_tau):
    """Sums and gradient weights of one tile, tails of 1-7 columns and several segments, at
    the temperatures of the losses (logits down to -80)."""
    lib = native.kernels()
    x, y = unit(r + c, 6, seed=1), unit(r + c, 9, seed=2)
    S, T = x[:r] @ x[r:].t(), y[:r] @ y[r:].t()
    # the kernel's logits: S / tau - 1 / tau rounded once to float32 (exact for these tau)
    s, t = [(X.double() * inv_tau - inv_tau).float().double() for X in (S, T)]
    e = torch.stack([s.exp(), t.exp(), t.exp() * (t - s)])  # (3, r, c)
    # error bounds: a few ulp per exponential, and the float32 difference t - s
    err = torch.stack([e[0], e[1], e[1] * ((t - s).abs() + 1e-7 * (t.abs() + s.abs()))])
    row_sums, col_sums = torch.empty(3, c // seg, r), torch.empty(3, c)
    S2, T2 = S.clone(), T.clone()
    native.tile_stats(lib, S2, T2, seg, inv_tau, row_sums, col_sums)

    def by_row(z):
        return z.view(3, r, c // seg, seg).sum(3).transpose(1, 2)

    assert ((row_sums - by_row(e)).abs() <= 2e-6 * by_row(err) + 1e-30).all()
    assert ((col_sums - e.sum(1)).abs() <= 2e-6 * err.sum(1) + 1e-30).all()
    assert torch.equal(S2, S) and torch.equal(T2, T)  # the tiles are only read

    u_row, u_col = torch.rand(2, c // seg, r), torch.rand(2, c)
    W = native.tile_weights(lib, S.clone(), T, seg, inv_tau, u_row, u_col)
    u = u_row.double().transpose(1, 2).repeat_interleave(seg, 2) + u_col.double()[:, None]
    expect = e[0] * u[0] - e[1] * u[1]
    bound = 2e-6 * (e[0] * u[0] + e[1] * u[1])
    assert ((W.double() - expect).abs() <= bound + 1e-30).all()


def test_exponential_within_one_ulp():
    """The passes' exponential over the logits' whole range [-80, 0] (one-column segments:
    the row sums are the entries' exponentials): relative error below 1 ulp of float32."""
    lib = native.kernels()
    n = 200_003
    S = torch.linspace(-1, 1, n).view(1, n)
    row_sums, col_sums = torch.empty(3, n, 1), torch.empty(3, n)
    native.tile_stats(lib, S, S.clone(), 1, 40.0, row_sums, col_sums)
    s = (S.double() * 40.0 - 40.0).float().double()[0]
    rel = (row_sums[0, :, 0].double() - s.exp()).abs() / s.exp()
    assert rel.max() < 2.0**-23, rel.max()
    assert torch.equal(row_sums[0, :, 0], row_sums[1, :, 0])


def test_tile_passes_refuse_mismatched_tiles():
    lib = native.kernels()
    S, T = torch.zeros(4, 8), torch.zeros(4, 8)
    with pytest.raises(ValueError, match='float32 CPU tiles'):
        native.tile_stats(lib, S.double(), T, 8, 1.0, torch.empty(3, 1, 4),
                          torch.empty(3, 8))
    with pytest.raises(ValueError, match='mismatched'):
        native.tile_stats(lib, S, T, 3, 1.0, torch.empty(3, 1, 4), torch.empty(3, 8))
    with pytest.raises(ValueError, match='mismatched'):
        native.tile_weights(lib, S, T, 8, 1.0, torch.empty(2, 2, 4), torch.empty(2, 8))


def cross_image(monkeypatch, enabled, a, b, **kw):
    monkeypatch.setenv('MCL_MM_NATIVE_KERNELS', '1' if enabled else '0')
    loss = CrossImagePixelLoss(0.1, **kw)(a, b)
    return loss, torch.autograd.grad(loss, a)[0]


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('rows,cols', [(None, None), (5, 13), (16, 2 * 9 * 11), (7, 1000)])
def test_cross_image_fused_equals_torch_passes(monkeypatch, threads, rows, cols):
    """Tiles of part of an image, of whole images, the diagonal square, two workers."""
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(3)
    a = torch.randn(3, 16, 9, 11, generator=g, requires_grad=True)
    b = torch.randn(3, 24, 9, 11, generator=g)
    assert native.usable(a) is not None
    fused, g_fused = cross_image(monkeypatch, True, a, b, block_rows=rows, block_cols=cols)
    plain, g_plain = cross_image(monkeypatch, False, a, b, block_rows=rows, block_cols=cols)
    torch.testing.assert_close(fused, plain, rtol=2e-6, atol=0)
    torch.testing.assert_close(g_fused, g_plain, rtol=1e-5, atol=1e-5 * g_plain.abs().max())


def test_cross_image_float64_keeps_the_torch_passes(monkeypatch):
    calls = []
    monkeypatch.setattr(native, 'tile_stats', lambda *args: calls.append(args))
    a = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    CrossImagePixelLoss(0.1)(a, torch.randn(2, 5, 3, 3, dtype=torch.float64)).backward()
    assert calls == [] and a.grad is not None


@pytest.mark.parametrize('block', [None, 3])
def test_anchor_kernel_fused_equals_torch_passes(monkeypatch, block):
    s, t, neg = unit(11, 8, seed=4), unit(11, 8, seed=5), unit(9 + 6, 8, seed=6)
    out = {}
    for enabled in (True, False):
        monkeypatch.setenv('MCL_MM_NATIVE_KERNELS', '1' if enabled else '0')
        x = s.clone().requires_grad_()
        losses = _AnchorRelationKL.apply(x, t, neg, (9, 6), 0.1, 1.0, block, True)
        out[enabled] = losses, torch.autograd.grad(losses @ torch.tensor([1.0, 0.3]), x)[0]
    torch.testing.assert_close(out[True][0], out[False][0], rtol=2e-6, atol=0)
    torch.testing.assert_close(out[True][1], out[False][1], rtol=1e-5, atol=1e-7)


def test_memory_loss_fused_equals_torch_passes(monkeypatch):
    g = torch.Generator().manual_seed(7)
    feat_S = torch.randn(2, 8, 6, 7, generator=g, requires_grad=True)
    feat_T = torch.randn(2, 12, 6, 7, generator=g)
    gt = torch.randint(0, 5, (2, 12, 14), generator=g)
    out = {}
    for enabled in (True, False):
        monkeypatch.setenv('MCL_MM_NATIVE_KERNELS', '1' if enabled else '0')
        torch.manual_seed(0)  # the projection head's initialisation
        m = CIRKDMemoryLoss(num_classes=5, student_channels=8, teacher_channels=12,
                            pixel_memory_size=50, region_memory_size=7, pixel_contrast_size=20,
                            region_contrast_size=9, seed=0)
        losses = m(feat_S, feat_T, gt)
        grad = torch.autograd.grad(losses['pixel'] + losses['region'], feat_S)[0]
        out[enabled] = losses['pixel'].detach(), losses['region'].detach(), grad
    for x, y in zip(out[True], out[False]):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-7)


def test_no_compiler_falls_back_to_torch_passes(monkeypatch, fresh_build):
    """A missing compiler: one warning naming the remedy; the losses still run, same value."""
    import mmengine.logging
    logged = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, logger=None, level=None: logged.append((msg, level)))
    monkeypatch.setenv('CC', str(fresh_build / 'no-such-cc'))
    assert native.kernels() is None
    assert native.kernels() is None  # tried once
    assert len(logged) == 1 and logged[0][1] == logging.WARNING
    assert 'no-such-cc' in logged[0][0] and 'Set $CC' in logged[0][0]
    a = torch.randn(2, 4, 3, 5, requires_grad=True)
    b = torch.randn(2, 6, 3, 5)
    loss = CrossImagePixelLoss(0.1)(a, b)
    loss.backward()
    monkeypatch.setenv('MCL_MM_NATIVE_KERNELS', '0')
    torch.testing.assert_close(loss, CrossImagePixelLoss(0.1)(a, b))
    assert not list(fresh_build.glob('*.so'))


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv('MCL_MM_NATIVE_KERNELS', '0')
    assert native.kernels() is None and native.usable(torch.zeros(1)) is None


@pytest.fixture
def fresh_gemm(monkeypatch):
    """native.gemm_nt's oneDNN probe not yet run; restored afterwards."""
    monkeypatch.setattr(native, '_state', {})
    monkeypatch.delenv('MCL_MM_ONEDNN_GEMM', raising=False)


@pytest.mark.skipif(not (torch.backends.mkldnn.is_available()
                         and hasattr(torch.ops.mkldnn, '_linear_pointwise')),
                    reason="torch without oneDNN's linear op (the fallback is tested below)")
def test_gemm_nt_through_onednn_equals_mm(monkeypatch, fresh_gemm):
    """Float32 like torch.mm (not bitwise: another summation order), on row slices of larger
    matrices as the kernels pass them; the probe leaves the global generator alone."""
    state = torch.get_rng_state()
    assert native.onednn_gemm()
    assert torch.equal(torch.get_rng_state(), state)
    x, y = unit(40, 24, seed=8), unit(70, 24, seed=9)
    for rows, cols in ((slice(0, 40), slice(0, 70)), (slice(3, 16), slice(50, 67))):
        out = native.gemm_nt(x[rows], y[cols])
        expect = x[rows].double() @ y[cols].double().t()
        assert out.dtype == torch.float32 and out.is_contiguous()
        torch.testing.assert_close(out.double(), expect, rtol=0, atol=1e-6)
    monkeypatch.setenv('MCL_MM_ONEDNN_GEMM', '0')
    assert not native.onednn_gemm()
    assert torch.equal(native.gemm_nt(x[3:16], y[50:67]), torch.mm(x[3:16], y[50:67].t()))


def test_gemm_nt_falls_back_to_mm(monkeypatch, fresh_gemm):
    """A torch whose oneDNN op is missing or fails: torch.mm, decided once."""
    def broken(*args):
        raise RuntimeError('no oneDNN here')

    monkeypatch.setattr(torch.ops.mkldnn, '_linear_pointwise', broken)
    assert not native.onednn_gemm()
    x, y = unit(5, 4, seed=10), unit(6, 4, seed=11)
    assert torch.equal(native.gemm_nt(x, y), torch.mm(x, y.t()))


def test_losses_agree_with_and_without_onednn(monkeypatch, fresh_gemm):
    g = torch.Generator().manual_seed(12)
    a = torch.randn(2, 16, 9, 11, generator=g, requires_grad=True)
    b = torch.randn(2, 24, 9, 11, generator=g)
    s, t, neg = unit(11, 8, seed=4), unit(11, 8, seed=5), unit(9 + 6, 8, seed=6)
    out = {}
    for enabled in ('1', '0'):
        monkeypatch.setenv('MCL_MM_ONEDNN_GEMM', enabled)
        loss = CrossImagePixelLoss(0.1, block_rows=16, block_cols=50)(a, b)
        x = s.clone().requires_grad_()
        losses = _AnchorRelationKL.apply(x, t, neg, (9, 6), 0.1, 1.0, 4, True)
        out[enabled] = (loss, torch.autograd.grad(loss, a)[0], losses,
                        torch.autograd.grad(losses.sum(), x)[0])
    for with_onednn, with_mm in zip(out['1'], out['0']):  # losses, gradients
        atol = 1e-6 * with_mm.abs().max().item() if with_mm.dim() else 0.0
        torch.testing.assert_close(with_onednn, with_mm, rtol=2e-6, atol=atol)


@pytest.mark.slow
def test_losses_train_under_torch_compile(monkeypatch, tmp_path):
    """A config's ``compile=True`` (MMEngine compiles the train step): the relation tiles'
    oneDNN GEMM failed in torch.compile's CPU lowering (it takes that op for frozen weights
    only); traced, the tiles take torch.mm and the loss equals the eager one. (Inductor's
    compiled code goes to this test's own folder, not the user's cache.)"""
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'inductor'))
    g = torch.Generator().manual_seed(3)
    feat_S = torch.randn(2, 16, 9, 11, generator=g)
    feat_T = torch.randn(2, 24, 9, 11, generator=g)
    loss = CrossImagePixelLoss(0.1, block_rows=32)
    results = []
    for fn in (loss, torch.compile(loss)):
        s = feat_S.clone().requires_grad_()
        value = fn(s, feat_T)
        results.append((value.detach(), torch.autograd.grad(value, s)[0]))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=1e-4, atol=1e-7)
