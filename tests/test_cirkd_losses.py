"""CIRKD losses: hand-checked cases, parity with naive re-implementations of the authors'
code (tag segv0.1, loops as there), queue updates, gradients, state dict round trips."""
import copy
import io
import math

import pytest
import torch
import torch.nn.functional as F

from mcl_mm.models.losses import CIRKDMemoryLoss, CrossImagePixelLoss, PixelKDLoss
from mcl_mm.models.losses.cirkd_loss import _AnchorRelationKL, _CrossImageRelationKL, _last_writes
from mcl_mm.registry import MODELS

pytestmark = pytest.mark.usefixtures('one_thread')  # small tensors


# ---------------------------------------------------------------- naive reference semantics


def naive_pixel_kd(preds_S, preds_T, T):
    """losses/kd.py: CriterionKD."""
    C = preds_S.shape[1]
    s = preds_S.permute(0, 2, 3, 1).reshape(-1, C)
    t = preds_T.permute(0, 2, 3, 1).reshape(-1, C)
    return F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction='batchmean') * T**2


def naive_cross_image(feat_S, feat_T, tau, pooling=False):
    """losses/cirkd_mini_batch.py: CriterionMiniBatchCrossImagePair (accumulated in the input
    dtype, the reference accumulates in a float32 scalar)."""
    if pooling:
        feat_S = F.avg_pool2d(feat_S, 2, 2, ceil_mode=True)
        feat_T = F.avg_pool2d(feat_T, 2, 2, ceil_mode=True)
    feat_S, feat_T = F.normalize(feat_S, p=2, dim=1), F.normalize(feat_T, p=2, dim=1)
    B = feat_S.shape[0]
    total = feat_S.new_zeros(())
    for i in range(B):
        for j in range(B):
            s = feat_S[i].flatten(1).t() @ feat_S[j].flatten(1)
            t = feat_T[i].flatten(1).t() @ feat_T[j].flatten(1)
            total = total + F.kl_div(F.log_softmax(s / tau, 1), F.softmax(t / tau, 1),
                                     reduction='batchmean')
    return total / (B * B)


def naive_memory_step(m, state, head, feat_S, feat_T, gt, gen):
    """losses/cirkd_memory.py: StudentSegContrast.forward, with the module's settings ``m``,
    the queues in ``state`` (updated in place), the projection head ``head`` and the random
    permutations drawn from ``gen`` in the reference's order."""
    K, ign = m.num_classes, m.ignore_index
    t_feats = F.normalize(feat_T, p=2, dim=1)
    s_feats = F.normalize(head(feat_S), p=2, dim=1)
    labels = F.interpolate(gt[:, None].float(), s_feats.shape[2:], mode='nearest')[:, 0].long()
    # _dequeue_and_enqueue (before the negatives are drawn)
    B, C = t_feats.shape[:2]
    with torch.no_grad():
        for b in range(B):
            this_feat = t_feats[b].reshape(C, -1)
            this_label = labels[b].reshape(-1)
            for lb in [int(x) for x in torch.unique(this_label) if x != ign]:
                idxs = (this_label == lb).nonzero()[:, 0]
                ptr = int(state['region_queue_ptr'][lb])
                state['region_queue'][lb, ptr] = F.normalize(this_feat[:, idxs].mean(1), dim=0)
                state['region_queue_ptr'][lb] = (ptr + 1) % m.region_memory_size
                perm = torch.randperm(idxs.shape[0], generator=gen)
                k = min(idxs.shape[0], m.pixels_per_class)
                chosen = idxs[perm[:k]] if m.sample_within_class else perm[:k]
                feat = F.normalize(this_feat[:, chosen].t(), p=2, dim=1)
                ptr = int(state['pixel_queue_ptr'][lb])
                if ptr + k >= m.pixel_memory_size:
                    state['pixel_queue'][lb, -k:] = feat
                    state['pixel_queue_ptr'][lb] = 0
                else:
                    state['pixel_queue'][lb, ptr:ptr + k] = feat
                    state['pixel_queue_ptr'][lb] = ptr + k
    valid = labels.reshape(-1) != ign
    s = s_feats.permute(0, 2, 3, 1).reshape(-1, C)[valid]
    t = t_feats.permute(0, 2, 3, 1).reshape(-1, C)[valid]
    losses = []
    for queue, size in (('pixel_queue', m.pixel_contrast_size),
                        ('region_queue', m.region_contrast_size)):
        Q = state[queue]
        index = torch.randperm(Q.shape[1], generator=gen)[:size // K + 1]
        X = torch.cat([Q[c, index] for c in range(K)])  # _sample_negative, class-major
        s_logits = s @ X.t() / m.contrast_temperature
        t_logits = t @ X.t() / m.contrast_temperature
        T = m.kd_temperature
        losses.append(F.kl_div(F.log_softmax(s_logits / T, 1), F.softmax(t_logits / T, 1),
                               reduction='batchmean') * T**2)
    return m.pixel_weight * losses[0], m.region_weight * losses[1]


def queue_state(m):
    return {k: v.clone() for k, v in m.state_dict().items() if 'queue' in k}


def make_memory(**kw):
    cfg = dict(num_classes=5, student_channels=8, teacher_channels=12, pixel_memory_size=50,
               region_memory_size=7, pixel_contrast_size=20, region_contrast_size=9, seed=0)
    cfg.update(kw)
    return CIRKDMemoryLoss(**cfg)


def memory_inputs(B=2, Cs=8, Ct=12, K=5, h=6, w=7, scale=2, seed=0, ignore_rows=2):
    g = torch.Generator().manual_seed(seed)
    feat_S = torch.randn(B, Cs, h, w, generator=g)
    feat_T = torch.randn(B, Ct, h, w, generator=g)
    gt = torch.randint(0, K, (B, h * scale, w * scale), generator=g)
    gt[:, :ignore_rows] = 255
    return feat_S, feat_T, gt


def identity_head(m):
    """Make the projection head the identity on non-negative inputs (Cs == Ct)."""
    with torch.no_grad():
        for conv in (m.project_head[0], m.project_head[3]):
            conv.weight.copy_(torch.eye(conv.weight.shape[0])[:, :, None, None])
    m.project_head[1].eval()  # running stats 0 / 1: x / sqrt(1 + eps)


# ---------------------------------------------------------------- PixelKDLoss


def test_pixel_kd_hand_cases():
    x = torch.randn(2, 3, 4, 5)
    assert PixelKDLoss()(x, x.clone()).item() == pytest.approx(0, abs=1e-7)
    # one pixel, two classes: p = (3/4, 1/4), q = (1/2, 1/2)
    s = torch.zeros(1, 2, 1, 1)
    t = torch.tensor([math.log(3.), 0.]).view(1, 2, 1, 1)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert PixelKDLoss()(s, t).item() == pytest.approx(expected, rel=1e-6)
    # T = 2: same distributions from doubled logits, times T² = 4; loss_weight scales
    loss = PixelKDLoss(temperature=2.0, loss_weight=0.5)(s, 2 * t)
    assert loss.item() == pytest.approx(0.5 * 4 * expected, rel=1e-6)
    # the mean is over pixels: two identical pixels give the same value
    assert PixelKDLoss()(s.expand(2, 2, 1, 1), t.expand(2, 2, 1, 1)).item() == pytest.approx(
        expected, rel=1e-6)


@pytest.mark.parametrize('T', [1.0, 4.0])
def test_pixel_kd_parity_and_gradients(T):
    s = torch.randn(2, 19, 5, 7, requires_grad=True)
    t = torch.randn(2, 19, 5, 7, requires_grad=True)
    ours = PixelKDLoss(temperature=T)(s, t)
    ref = naive_pixel_kd(s, t.detach(), T)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    g_ours, = torch.autograd.grad(ours, s, retain_graph=True)
    g_ref, = torch.autograd.grad(ref, s)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-5, atol=1e-7)
    ours.backward()
    assert s.grad is not None and t.grad is None


def test_pixel_kd_shape_error():
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 5\).*\(2, 4, 4, 5\)'):
        PixelKDLoss()(torch.randn(2, 3, 4, 5), torch.randn(2, 4, 4, 5))


# ---------------------------------------------------------------- CrossImagePixelLoss


def test_cross_image_hand_cases():
    f = torch.randn(3, 6, 4, 5)
    assert CrossImagePixelLoss()(f, f.clone()).item() == pytest.approx(0, abs=1e-6)
    # one image, two pixels: student pixels orthogonal (S = I), teacher pixels equal (T = 1)
    feat_S = torch.tensor([[1., 0.], [0., 1.]]).t().reshape(1, 2, 1, 2)
    feat_T = torch.tensor([[1., 0.], [1., 0.]]).t().reshape(1, 2, 1, 2)
    tau = 0.1
    log_q_same = -math.log1p(math.exp(-1 / tau))  # log softmax([1/tau, 0])[0]
    log_q_other = -1 / tau + log_q_same
    expected = 0.5 * (math.log(0.5) - log_q_same) + 0.5 * (math.log(0.5) - log_q_other)
    loss = CrossImagePixelLoss(temperature=tau, loss_weight=2.0)(feat_S, feat_T)
    assert loss.item() == pytest.approx(2 * expected, rel=1e-6)


CROSS_CASES = [(1, 3, 5, False, 2), (2, 5, 7, True, 3), (2, 7, 6, False, 4), (3, 5, 3, False, 5),
               (3, 9, 11, True, 4), (2, 4, 4, False, 64)]


@pytest.mark.parametrize('B,h,w,pooling,block', CROSS_CASES)
def test_cross_image_parity_float64(B, h, w, pooling, block):
    g = torch.Generator().manual_seed(B * 100 + h)
    feat_S = torch.randn(B, 6, h, w, generator=g, dtype=torch.float64, requires_grad=True)
    feat_T = torch.randn(B, 10, h, w, generator=g, dtype=torch.float64)
    ours = CrossImagePixelLoss(0.1, pooling=pooling, block_rows=block)(feat_S, feat_T)
    ref = naive_cross_image(feat_S, feat_T, 0.1, pooling)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(ours, feat_S)[0],
                               torch.autograd.grad(ref, feat_S)[0], rtol=1e-8, atol=1e-12)


def test_cross_image_parity_float32_moderate():
    g = torch.Generator().manual_seed(1)
    feat_S = torch.randn(3, 32, 17, 23, generator=g, requires_grad=True)
    feat_T = torch.randn(3, 48, 17, 23, generator=g, requires_grad=True)
    for pooling in (False, True):
        ours = CrossImagePixelLoss(0.1, pooling=pooling, block_rows=64)(feat_S, feat_T)
        ref = naive_cross_image(feat_S, feat_T.detach(), 0.1, pooling)
        assert abs(ours.item() - ref.item()) <= 1e-5 * max(1., abs(ref.item()))
        g_ours, = torch.autograd.grad(ours, feat_S)
        g_ref, = torch.autograd.grad(ref, feat_S)
        assert (g_ours - g_ref).abs().max() <= 1e-5 * g_ref.abs().max()


def test_cross_image_gradcheck_and_teacher_gets_no_grad():
    g = torch.Generator().manual_seed(2)
    a = F.normalize(torch.randn(2, 5, 3, generator=g, dtype=torch.float64), dim=2)
    b = F.normalize(torch.randn(2, 5, 4, generator=g, dtype=torch.float64), dim=2)
    a.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: _CrossImageRelationKL.apply(x, b, 0.5, 2), (a, ))
    feat_S = torch.randn(2, 3, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    feat_T = torch.randn(2, 4, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    loss = CrossImagePixelLoss(0.5, pooling=True, block_rows=2)
    assert torch.autograd.gradcheck(lambda x: loss(x, feat_T), (feat_S, ))
    loss(feat_S, feat_T).backward()
    assert feat_S.grad is not None and feat_T.grad is None


def test_cross_image_keeps_no_relation_maps():
    """No hw x hw map (nor B² of them) is saved for backward; the naive version saves them."""
    B, C, h, w = 2, 4, 12, 12
    N = h * w
    feat_S = torch.randn(B, C, h, w, requires_grad=True)
    feat_T = torch.randn(B, 2 * C, h, w)
    for fn, expect_maps in ((CrossImagePixelLoss(0.1, block_rows=16), False),
                            (lambda s, t: naive_cross_image(s, t, 0.1), True)):
        sizes = []

        def pack(x):
            sizes.append(x.numel())
            return x

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            loss = fn(feat_S, feat_T)
        assert (max(sizes) >= N * N) == expect_maps
        if not expect_maps:
            assert max(sizes) <= B * N * 2 * C and sum(sizes) <= 8 * B * N * 2 * C
        loss.backward()


def test_autocast_half_precision_inputs():
    """Under autocast the kernels still compute in float32 and return float32 losses."""
    feat_S = torch.randn(2, 8, 5, 6, requires_grad=True)
    feat_T = torch.randn(2, 12, 5, 6)
    gt = torch.randint(0, 3, (2, 10, 12))
    ref = naive_cross_image(feat_S.bfloat16().double(), feat_T.bfloat16().double(), 0.1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = CrossImagePixelLoss()(feat_S.bfloat16(), feat_T.bfloat16())
        out = make_memory(num_classes=3, teacher_channels=12)(feat_S, feat_T, gt)
    assert loss.dtype == out['pixel'].dtype == out['region'].dtype == torch.float32
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    (loss + out['pixel'] + out['region']).backward()
    assert feat_S.grad.dtype == torch.float32 and torch.isfinite(feat_S.grad).all()


def test_cross_image_small_temperature_and_errors():
    # exp(-2/tau) underflows float32 below tau = 0.025: the kernel switches to float64
    g = torch.Generator().manual_seed(3)
    feat_S = torch.randn(2, 5, 4, 3, generator=g, requires_grad=True)
    feat_T = torch.randn(2, 7, 4, 3, generator=g)
    ours = CrossImagePixelLoss(0.01, block_rows=5)(feat_S, feat_T)
    ref = naive_cross_image(feat_S.double(), feat_T.double(), 0.01)
    assert torch.isfinite(ours) and ours.item() == pytest.approx(ref.item(), rel=1e-5)
    with pytest.raises(ValueError, match='temperature'):
        CrossImagePixelLoss(0.001)
    with pytest.raises(ValueError, match=r'\(2, 5, 4, 3\).*\(2, 7, 4, 4\)'):
        CrossImagePixelLoss()(feat_S, torch.randn(2, 7, 4, 4))


# ---------------------------------------------------------------- CIRKDMemoryLoss


def test_memory_hand_case():
    """One anchor, one negative per class, known queues: a two-way softmax by hand."""
    m = make_memory(num_classes=2, student_channels=2, teacher_channels=2, pixel_memory_size=1,
                    region_memory_size=1, pixel_contrast_size=1, region_contrast_size=1,
                    pixels_per_class=1, pixel_weight=1., region_weight=0.5)
    identity_head(m)
    with torch.no_grad():
        m.pixel_queue[1, 0] = torch.tensor([0., 1.])
        m.region_queue[1, 0] = torch.tensor([0., 1.])
    feat_S = torch.tensor([0.6, 0.8]).view(1, 2, 1, 1)
    feat_T = torch.tensor([2.0, 0.]).view(1, 2, 1, 1)
    # the anchor (class 0) is enqueued first, so the negatives are (1, 0) and (0, 1)
    out = m(feat_S, feat_T, torch.zeros(1, 1, 1, dtype=torch.long))
    p = torch.softmax(torch.tensor([10., 0.]), 0)
    log_q = torch.log_softmax(torch.tensor([6., 8.]), 0)
    expected = (p * (p.log() - log_q)).sum().item()
    assert out['pixel'].item() == pytest.approx(expected, rel=1e-5)
    assert out['region'].item() == pytest.approx(0.5 * expected, rel=1e-5)
    torch.testing.assert_close(m.pixel_queue[0, 0], torch.tensor([1., 0.]))


def test_memory_identical_student_and_teacher_is_zero():
    m = make_memory(student_channels=6, teacher_channels=6)
    identity_head(m)
    feat, _, gt = memory_inputs(Cs=6)
    feat = feat.abs() + 0.1  # the head's ReLU keeps it
    out = m(feat, feat.clone(), gt)
    assert out['pixel'].abs().item() < 1e-6 and out['region'].abs().item() < 1e-6


@pytest.mark.parametrize('within', [True, False])
def test_memory_parity_with_reference_loop(within):
    """Two steps (queues wrap), same queues and draws: values, gradients and queues agree."""
    m = make_memory(sample_within_class=within, pixel_weight=0.3, region_weight=0.7)
    head = copy.deepcopy(m.project_head)
    state = queue_state(m)
    gen = torch.Generator()
    gen.set_state(m.generator.get_state())
    for step in range(2):
        feat_S, feat_T, gt = memory_inputs(seed=step)
        feat_S.requires_grad_(True)
        out = m(feat_S, feat_T, gt)
        ref = naive_memory_step(m, state, head, feat_S, feat_T, gt, gen)
        for key, value in zip(('pixel', 'region'), ref):
            assert out[key].item() == pytest.approx(value.item(), rel=1e-5, abs=1e-7)
        params = [feat_S] + list(m.project_head.parameters())
        ref_params = [feat_S] + list(head.parameters())
        grads = torch.autograd.grad(out['pixel'] + 2 * out['region'], params)
        ref_grads = torch.autograd.grad(ref[0] + 2 * ref[1], ref_params)
        for g_ours, g_ref in zip(grads, ref_grads):
            assert g_ours.abs().sum() > 0
            assert (g_ours - g_ref).abs().max() <= 1e-5 * g_ref.abs().max()
        for key, value in queue_state(m).items():
            torch.testing.assert_close(value, state[key], rtol=0, atol=1e-6)
        assert torch.equal(m.generator.get_state(), gen.get_state())
    assert m.pixel_queue_ptr.tolist() != [0] * 5  # the queues moved


def test_memory_enqueue_class_correct_ignore_and_region_mean():
    K, C, h, w = 4, 6, 8, 10
    m = make_memory(num_classes=K, teacher_channels=C, pixel_memory_size=100,
                    region_memory_size=10)
    labels = torch.randint(0, K, (2, h, w), generator=torch.Generator().manual_seed(5))
    labels[0, :3] = 255
    labels[1, :, :2] = 255
    # teacher feature = one-hot of the class in channels 0..K-1 plus a per-pixel random part;
    # ignored pixels are marked in the last channel
    keys = torch.rand(2, C, h, w) * 0.1
    keys[:, :K] += F.one_hot(labels.clamp(max=K - 1), K).permute(0, 3, 1, 2) * 5
    keys[:, -1] = (labels == 255).float() * 100
    keys = F.normalize(keys, dim=1)
    before = queue_state(m)
    m._dequeue_and_enqueue(keys, labels)
    flat_keys = keys.permute(0, 2, 3, 1).reshape(2, -1, C)
    for c in range(K):
        n = int(m.pixel_queue_ptr[c])
        rows = m.pixel_queue[c, :n]
        assert n == sum(min(int((labels[b] == c).sum()), 16) for b in range(2))
        assert (rows.argmax(1) == c).all()  # class-correct, no ignored pixel
        # every row is the (normalised) teacher feature of a pixel of class c
        pool = torch.cat([flat_keys[b][labels[b].reshape(-1) == c] for b in range(2)])
        dist = torch.cdist(rows, pool, compute_mode='donot_use_mm_for_euclid_dist')
        assert dist.min(1).values.max() < 1e-6
        assert torch.equal(m.pixel_queue[c, n:], before['pixel_queue'][c, n:])
        # region means, image by image
        assert int(m.region_queue_ptr[c]) == 2
        for b in range(2):
            mean = F.normalize(flat_keys[b][labels[b].reshape(-1) == c].mean(0), dim=0)
            torch.testing.assert_close(m.region_queue[c, b], mean, rtol=0, atol=1e-6)
    # the reference's bug (pixels drawn from the whole image) breaks class-correctness
    bug = make_memory(num_classes=K, teacher_channels=C, pixel_memory_size=100,
                      sample_within_class=False)
    bug._dequeue_and_enqueue(keys, labels)
    wrong = [(bug.pixel_queue[c, :int(bug.pixel_queue_ptr[c])].argmax(1) != c).any()
             for c in range(K)]
    assert any(wrong)


def test_memory_pointer_wrap_around():
    m = make_memory(num_classes=2, teacher_channels=3, pixel_memory_size=20,
                    region_memory_size=3, region_contrast_size=4)
    labels = torch.zeros(4, 5, 5, dtype=torch.long)  # 25 pixels of class 0 per image
    keys = F.normalize(torch.randn(4, 3, 5, 5), dim=1)
    before = queue_state(m)
    m._dequeue_and_enqueue(keys[:1], labels[:1])
    assert m.pixel_queue_ptr.tolist() == [16, 0] and m.region_queue_ptr.tolist() == [1, 0]
    written = m.pixel_queue[0].clone()
    assert torch.equal(written[16:], before['pixel_queue'][0, 16:])
    # 16 + 16 >= 20: the last 16 slots are written and the pointer goes back to 0
    m._dequeue_and_enqueue(keys[1:2], labels[1:2])
    assert m.pixel_queue_ptr.tolist() == [0, 0]
    assert torch.equal(m.pixel_queue[0, :4], written[:4])
    assert not torch.equal(m.pixel_queue[0, 4:], written[4:])
    # four images in one batch: region slots 2, 0, 1, 2 (wrapped; the last write wins)
    m._dequeue_and_enqueue(keys, labels)
    assert m.region_queue_ptr.tolist() == [0, 0]
    means = F.normalize(keys.mean((2, 3)), dim=1)
    torch.testing.assert_close(m.region_queue[0], means[[1, 2, 3]], rtol=0, atol=1e-6)
    assert torch.equal(m.region_queue[1], before['region_queue'][1])
    assert torch.equal(m.pixel_queue[1], before['pixel_queue'][1])
    # pixels, sequentially: 0 -> 16 -> (last 16 slots) 0 -> 16 -> (last 16 slots) 0
    assert m.pixel_queue_ptr.tolist() == [0, 0]
    rows = keys[3].flatten(1).t()  # the last image's 16 pixels fill slots 4..19
    dist = torch.cdist(m.pixel_queue[0, 4:], rows, compute_mode='donot_use_mm_for_euclid_dist')
    assert dist.min(1).values.max() < 1e-6


def test_memory_pointer_exact_fit_and_last_write():
    # ptr + n == size counts as full (the reference's ``>=``): last n slots, pointer to 0
    m = make_memory(num_classes=1, teacher_channels=3, pixel_memory_size=32,
                    region_contrast_size=6)
    keys = F.normalize(torch.randn(2, 3, 5, 5), dim=1)
    m._dequeue_and_enqueue(keys, torch.zeros(2, 5, 5, dtype=torch.long))
    assert m.pixel_queue_ptr.tolist() == [0]
    m._dequeue_and_enqueue(keys[:1], torch.zeros(1, 5, 5, dtype=torch.long))
    assert m.pixel_queue_ptr.tolist() == [16]
    # one vectorised write keeps the last of repeated destinations (sequential semantics)
    src, dst = _last_writes(torch.arange(5), torch.tensor([1, 2, 1, 3, 2]))
    assert sorted(zip(dst.tolist(), src.tolist())) == [(1, 2), (2, 4), (3, 3)]


def test_memory_all_ignored_batch():
    m = make_memory()
    feat_S, feat_T, gt = memory_inputs()
    feat_S.requires_grad_(True)
    gt[:] = 255
    before = queue_state(m)
    out = m(feat_S, feat_T, gt)
    for value in out.values():
        assert torch.isfinite(value) and value.item() == 0 and value.requires_grad
    (out['pixel'] + out['region']).backward()
    assert feat_S.grad is not None and torch.isfinite(feat_S.grad).all()
    assert all(p.grad is not None for p in m.project_head.parameters())
    for key, value in queue_state(m).items():
        assert torch.equal(value, before[key])


def test_memory_gradients_reach_student_and_head_only():
    m = make_memory()
    feat_S, feat_T, gt = memory_inputs()
    feat_S.requires_grad_(True)
    feat_T.requires_grad_(True)
    out = m(feat_S, feat_T, gt)
    (out['pixel'] + out['region']).backward()
    assert feat_S.grad.abs().sum() > 0
    assert all(p.grad.abs().sum() > 0 for p in m.project_head.parameters() if p.requires_grad)
    assert feat_T.grad is None
    assert not m.pixel_queue.requires_grad and not m.region_queue.requires_grad


def test_memory_anchor_kernel_gradcheck():
    g = torch.Generator().manual_seed(4)
    s = F.normalize(torch.randn(7, 3, generator=g, dtype=torch.float64), dim=1)
    t = F.normalize(torch.randn(7, 3, generator=g, dtype=torch.float64), dim=1)
    neg = F.normalize(torch.randn(9, 3, generator=g, dtype=torch.float64), dim=1)
    s.requires_grad_(True)
    weights = torch.tensor([1.0, 0.3], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda x: (_AnchorRelationKL.apply(x, t, neg, (5, 4), 0.5, 2.0, 3, True) * weights).sum(),
        (s, ))


def test_memory_input_errors():
    m = make_memory()
    feat_S, feat_T, gt = memory_inputs()
    with pytest.raises(ValueError, match='feat_S has 9 channels.*student_channels=8'):
        m(torch.randn(2, 9, 6, 7), feat_T, gt)
    with pytest.raises(ValueError, match='feat_T has 11 channels.*teacher_channels=12'):
        m(feat_S, torch.randn(2, 11, 6, 7), gt)
    bad = gt.clone()
    bad[0, -1, -1] = 5
    bad[1, -1, -1] = -1
    with pytest.raises(ValueError, match=r'\[-1, 5\]'):
        m(feat_S, feat_T, bad)


def test_memory_queue_sizes_refused_naming_the_keys():
    """A pixel queue shorter than the pixels enqueued per class and image would spill into
    the neighbouring classes' queues; a queue shorter than the negatives drawn per class
    would silently give fewer negatives. Both are refused, naming the keys."""
    with pytest.raises(ValueError, match=r'pixel_memory_size=15 is smaller than '
                       r'pixels_per_class=16.*pixel_memory_size >= pixels_per_class'):
        make_memory(pixel_memory_size=15)
    # negatives per class: contrast_size // num_classes + 1 (5 classes)
    with pytest.raises(ValueError, match=r'pixel_contrast_size=250 draws .* = 51 negatives per '
                       r'class, more than pixel_memory_size=50 slots'):
        make_memory(pixel_contrast_size=250)
    with pytest.raises(ValueError, match=r'region_contrast_size=35 .* = 8 .*'
                       r'region_memory_size=7 slots: expected region_memory_size >= 8 or '
                       r'region_contrast_size < 35'):
        make_memory(region_contrast_size=35)
    make_memory(pixel_contrast_size=249, region_contrast_size=34)  # just fits
    # the largest accepted pixel queue (== pixels_per_class) and a one-slot region queue with
    # many images of a class: each class's writes stay in its own queue
    m = make_memory(num_classes=3, teacher_channels=3, pixel_memory_size=4, pixels_per_class=4,
                    region_memory_size=1, pixel_contrast_size=2, region_contrast_size=2)
    labels = torch.ones(3, 5, 5, dtype=torch.long)
    keys = F.normalize(torch.randn(3, 3, 5, 5, generator=torch.Generator().manual_seed(0)),
                       dim=1)
    before = queue_state(m)
    for _ in range(2):
        m._dequeue_and_enqueue(keys, labels)
    for queue in ('pixel_queue', 'region_queue'):
        for c in (0, 2):
            assert torch.equal(getattr(m, queue)[c], before[queue][c])
        assert not torch.equal(getattr(m, queue)[1], before[queue][1])
    pool = keys.permute(0, 2, 3, 1).reshape(-1, 3)
    dist = torch.cdist(m.pixel_queue[1], pool, compute_mode='donot_use_mm_for_euclid_dist')
    assert dist.min(1).values.max() < 1e-6  # class 1's queue holds class 1 pixels
    mean = F.normalize(keys[2].flatten(1).mean(1), dim=0)  # the last image's region
    torch.testing.assert_close(m.region_queue[1, 0], mean, rtol=0, atol=1e-6)
    # what the check prevents: with 8 pixels per class into 4 slots, the run starts at
    # 4 - 8 = -4, inside class 0's queue
    m.pixels_per_class = 8
    before = queue_state(m)
    m._dequeue_and_enqueue(keys[:1], labels[:1])
    assert not torch.equal(m.pixel_queue[0], before['pixel_queue'][0])


def test_memory_state_dict_round_trip():
    m1 = make_memory(seed=3)
    m1(*memory_inputs(seed=1))  # move the queues, pointers and generator
    buf = io.BytesIO()
    torch.save(m1.state_dict(), buf)
    buf.seek(0)
    m2 = make_memory(seed=99)
    m2.load_state_dict(torch.load(buf, weights_only=True))
    sd1, sd2 = m1.state_dict(), m2.state_dict()
    assert sd1.keys() == sd2.keys() and '_extra_state' in sd1
    for key in ('pixel_queue', 'region_queue', 'pixel_queue_ptr', 'region_queue_ptr'):
        assert torch.equal(sd1[key], sd2[key])
    assert torch.equal(m1.generator.get_state(), m2.generator.get_state())
    inputs = memory_inputs(seed=2)
    out1, out2 = m1(*inputs), m2(*inputs)
    for key in out1:
        assert torch.equal(out1[key], out2[key])
    for key, value in queue_state(m1).items():
        assert torch.equal(value, queue_state(m2)[key])
    # a deep copy (e.g. for EMA) carries the generator state too
    m3 = copy.deepcopy(m1)
    assert torch.equal(m3(*inputs)['pixel'], m1(*inputs)['pixel'])


def test_registry_build():
    assert isinstance(MODELS.build(dict(type='PixelKDLoss')), PixelKDLoss)
    assert isinstance(MODELS.build(dict(type='CrossImagePixelLoss', pooling=True)),
                      CrossImagePixelLoss)
    m = MODELS.build(dict(type='CIRKDMemoryLoss', num_classes=3, student_channels=4,
                          teacher_channels=8, pixel_memory_size=16, region_memory_size=4,
                          pixel_contrast_size=47, region_contrast_size=11))
    assert m.pixel_queue.shape == (3, 16, 8) and m.region_queue.shape == (3, 4, 8)
    torch.testing.assert_close(m.pixel_queue.norm(dim=2), torch.ones(3, 16))


# ---------------------------------------------------------------- distributed (2 CPU ranks)


def _dist_worker(rank, world_size, init_file, out_dir):
    import torch.distributed as tdist
    tdist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                             world_size=world_size)
    torch.set_num_threads(1)
    m = make_memory(seed=7)
    feat_S, feat_T, gt = memory_inputs(seed=10 + rank)
    out = m(feat_S, feat_T, gt)
    torch.save(dict(queues=queue_state(m), generator=m.generator.get_state(),
                    pixel=out['pixel'].detach()), f'{out_dir}/rank{rank}.pth')
    tdist.destroy_process_group()


def test_memory_distributed_ranks_agree(tmp_path):
    """Under 2 gloo ranks the queues are updated with the gathered batch on every rank, and
    both ranks end with the same generator state (same negatives)."""
    import torch.multiprocessing as mp
    mp.spawn(_dist_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    results = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in range(2)]
    single = make_memory(seed=7)
    batches = [memory_inputs(seed=10 + r) for r in range(2)]
    feat_T = torch.cat([b[1] for b in batches])
    gt = torch.cat([b[2] for b in batches])
    keys = F.normalize(feat_T, dim=1)
    labels = F.interpolate(gt[:, None].float(), keys.shape[2:], mode='nearest')[:, 0].long()
    single._dequeue_and_enqueue(keys, labels)
    single._sample_negatives()
    for res in results:
        assert torch.equal(res['generator'], single.generator.get_state())
        for key, value in queue_state(single).items():
            torch.testing.assert_close(res['queues'][key], value, rtol=0, atol=1e-6)
    # each rank's loss is the loss of its own anchors against the shared negatives
    assert results[0]['pixel'] != results[1]['pixel']


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('rows,cols', [(None, None), (3, 3), (4, 9), (5, 40), (2, 1000)])
def test_cross_image_tiles_and_workers_match_the_reference(threads, rows, cols):
    """Every tile shape (parts of one image, runs of whole images, the run-time choice) and
    every worker count give the reference's value and gradient."""
    g = torch.Generator().manual_seed(7)
    feat_S = torch.randn(3, 6, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    feat_T = torch.randn(3, 10, 5, 4, generator=g, dtype=torch.float64)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        ours = CrossImagePixelLoss(0.1, block_rows=rows, block_cols=cols)(feat_S, feat_T)
        grad = torch.autograd.grad(ours, feat_S)[0]
    finally:
        torch.set_num_threads(before)
    ref = naive_cross_image(feat_S, feat_T, 0.1, False)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad, torch.autograd.grad(ref, feat_S)[0], rtol=1e-8,
                               atol=1e-12)


@pytest.mark.parametrize('block', [None, 3])
def test_memory_parity_with_two_workers(block):
    """The anchor blocks split between two CPU workers: the reference loop's values and
    gradients, as with one."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        m = make_memory(block_rows=block)
        head = copy.deepcopy(m.project_head)
        state = queue_state(m)
        gen = torch.Generator()
        gen.set_state(m.generator.get_state())
        feat_S, feat_T, gt = memory_inputs(seed=0)
        feat_S.requires_grad_(True)
        out = m(feat_S, feat_T, gt)
        ref = naive_memory_step(m, state, head, feat_S, feat_T, gt, gen)
        for key, value in zip(('pixel', 'region'), ref):
            assert out[key].item() == pytest.approx(value.item(), rel=1e-5, abs=1e-7)
        grad = torch.autograd.grad(out['pixel'] + out['region'], feat_S)[0]
        ref_grad = torch.autograd.grad(ref[0] + ref[1], feat_S)[0]
        assert (grad - ref_grad).abs().max() <= 1e-5 * ref_grad.abs().max()
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_loss_benchmark_runs_with_competitors(tmp_path):
    """tools/benchmark_cirkd.py at the tiny shape with a competing process, two rounds: a row
    per round with wall and CPU seconds and the peak, the competitor's CPU seconds, and the
    JSON file."""
    import json
    import subprocess
    import sys

    from conftest import REPO
    out = subprocess.run(
        [sys.executable, 'tools/benchmark_cirkd.py', '--shapes', 'tiny', '--repeats', '1',
         '--items', 'stack', '--threads', '2', '--compete', '1', '--rounds', '2', '--json',
         str(tmp_path / 'b.json')], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith('tiny       stack')]
    assert [row.split()[2:4] for row in rows] == [['ours', '1'], ['ours', '2']], out.stdout
    assert all('competitors used' in row for row in rows), out.stdout
    records = json.loads((tmp_path / 'b.json').read_text())
    assert [r['round'] for r in records] == [1, 2]
    assert records[0]['threads'] == 2 and records[0]['competitor_cpu'][0] > 0
    assert records[0]['times'][0] > 0 and records[0]['cpu_times'][0] > 0


@pytest.mark.slow
def test_loss_benchmark_alternates_a_switch(tmp_path):
    """tools/benchmark_cirkd.py --alternate: one process, the passes alternating between the
    two settings of the switch, the median of the paired ratios; refused with --reference."""
    import json
    import subprocess
    import sys

    from conftest import REPO
    cmd = [sys.executable, 'tools/benchmark_cirkd.py', '--shapes', 'tiny', '--items', 'memory',
           '--repeats', '3', '--threads', '1', '--alternate', 'MCL_MM_ONEDNN_GEMM']
    out = subprocess.run(cmd + ['--json', str(tmp_path / 'b.json')], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'tiny memory: median ratio MCL_MM_ONEDNN_GEMM=1 / MCL_MM_ONEDNN_GEMM=0' in out.stdout
    (record, ) = json.loads((tmp_path / 'b.json').read_text())
    assert len(record['times']) == len(record['times_off']) == 3
    assert record['ratio'] > 0 and set(record['values']) == {'memory_pixel', 'memory_region'}
    out = subprocess.run(cmd + ['--reference', str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 2 and 'neither --reference nor --rounds' in out.stderr
