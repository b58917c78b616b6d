"""MCL losses: hand-checked cases, parity with naive loop re-implementations of the authors'
code (winycg/MCL, winycg/L-MCL: per anchor, per pair of views), memory draws and updates,
gradients, state dict round trips, two gloo ranks."""
import copy
import io
import math

import pytest
import torch
import torch.nn.functional as F

from mcl_mm.models.losses import MCLLoss, MutualKDLoss
from mcl_mm.models.losses.mcl_loss import (_bilinear_points, _CohortTerms, _entries, _Gram,
                                           _last_occurrence, _PointGather, _stable_argsort)
from mcl_mm.registry import MODELS

KEYS = ('vcl', 'soft_vcl', 'icl', 'soft_icl')
ONES = dict(vcl=1., soft_vcl=1., icl=1., soft_icl=1.)


pytestmark = pytest.mark.usefixtures('one_thread')  # small tensors


# ---------------------------------------------------------------- naive reference semantics


def sup_con(x, pos, valid):
    """The module's supervised contrastive loss of the (R, K) logits ``x``."""
    e = _entries(pos, valid, x.dtype)
    return _CohortTerms.apply(1., 1., [e], [(0, 0, 1.)], [], x)[0]


def row_kl(s, t, valid, T):
    """The module's ``sum_rows KL(softmax(t / T) || softmax(s / T)) / R * T²`` over the valid
    entries (t its teacher)."""
    e = _entries(torch.zeros_like(valid), valid, s.dtype)
    return _CohortTerms.apply(1., T, [e, e], [], [(0, 1, 1, 1.)], s, t)[1]


def naive_sup_con_row(row, pos, valid):
    """One anchor: -mean over positives of log softmax over the valid entries (None without
    a positive: the reference's 0/0, skipped here)."""
    lse = torch.logsumexp(torch.stack([row[c] for c in range(len(row)) if valid[c]]), 0)
    terms = [row[c] - lse for c in range(len(row)) if pos[c]]
    return -torch.stack(terms).mean() if terms else None


def naive_kl_row(s_row, t_row, valid, T):
    """One row of KL(softmax(t / T) || softmax(s / T)) * T² over the valid entries."""
    cols = [c for c in range(len(s_row)) if valid[c]]
    if not cols:
        return 0.
    s = torch.stack([s_row[c] for c in cols]) / T
    t = torch.stack([t_row[c] for c in cols]).detach() / T
    return (F.softmax(t, 0) * (F.log_softmax(t, 0) - F.log_softmax(s, 0))).sum() * T * T


def naive_terms(views, R, intra, inter, T, with_labels):
    """The four terms from per-anchor rows: ``intra(v, a)`` and ``inter(v, w, a)`` give
    (row, pos, valid) for anchor a of view v (against w's member for inter)."""
    out = dict(vcl=0., soft_vcl=0., icl=0., soft_icl=0.)
    pairs = [(v, w) for v in views for w in views if v[0] != w[0]]

    def mean_sup_con(rows):
        losses = [loss for loss in (naive_sup_con_row(*r) for r in rows) if loss is not None]
        return torch.stack(losses).mean() if losses else 0.

    for v in views:
        if with_labels:
            out['vcl'] = out['vcl'] + mean_sup_con([intra(v, a) for a in range(R)])
    for v, w in pairs:
        if with_labels:  # kl(intra_logits[i], intra_logits[j].detach())
            for a in range(R):
                (s, _, valid), (t, _, _) = intra(v, a), intra(w, a)
                out['soft_vcl'] = out['soft_vcl'] + naive_kl_row(s, t, valid, T) / R
        out['icl'] = out['icl'] + mean_sup_con([inter(v, w, a) for a in range(R)])
        for a in range(R):  # kl(cos_simi_ij, cos_simi_ji.detach())
            (s, _, valid), (t, _, _) = inter(v, w, a), inter(w, v, a)
            out['soft_icl'] = out['soft_icl'] + naive_kl_row(s, t, valid, T) / R
    return out


def naive_lmcl_terms(views, R, intra, inter, T, with_labels):
    """winycg/L-MCL ``Sup_MCL_Loss_Meta.forward`` (losses/cifar_sup_layer_mcl_meta_loss.py,
    losses/imagenet_sup_layer_mcl_meta_loss.py) with uniform pair weights (1), loop form: for
    every ordered pair of members (i, j), i != j, and every view k of i and z of j, one call of
    the pair loss (``SupMCL.forward`` / ``ContrastMemory.forward``) on (a, b) = ((i, k), (j, z)),
    whose four terms are added:

    * ICL: ``cos_simi_ij`` (b's anchors against a's member's contrast set) and ``cos_simi_ji``
      (a's against b's member's), each a supervised contrastive loss;
    * soft ICL: ``kl(cos_simi_ij, cos_simi_ji.detach()) + kl(cos_simi_ji, cos_simi_ij.detach())``;
    * VCL: ``intra_a`` and ``intra_b`` (each against its own member's contrast set);
    * soft VCL: ``kl(intra_a, intra_b.detach()) + kl(intra_b, intra_a.detach())``.

    Rows come from ``intra(v, a)`` / ``inter(v, w, a)`` as for :func:`naive_terms`.
    """
    out = dict(vcl=0., soft_vcl=0., icl=0., soft_icl=0.)
    members = sorted({v[0] for v in views})
    views_of = {i: [v for v in views if v[0] == i] for i in members}

    def sup_con(rows_of):
        losses = [loss for loss in (naive_sup_con_row(*rows_of(r)) for r in range(R))
                  if loss is not None]
        return torch.stack(losses).mean() if losses else 0.

    def kl(student, teacher):  # KLDiv: summed over rows, divided by the rows
        total = 0.
        for r in range(R):
            (s, _, valid), (t, _, _) = student(r), teacher(r)
            total = total + naive_kl_row(s, t, valid, T)
        return total / R

    for i in members:
        for j in members:
            if i == j:
                continue
            for a in views_of[i]:
                for b in views_of[j]:
                    cos_ij = lambda r, a=a, b=b: inter(b, a, r)  # noqa: E731
                    cos_ji = lambda r, a=a, b=b: inter(a, b, r)  # noqa: E731
                    out['soft_icl'] = out['soft_icl'] + kl(cos_ij, cos_ji) + kl(cos_ji, cos_ij)
                    out['icl'] = out['icl'] + sup_con(cos_ij) + sup_con(cos_ji)
                    if not with_labels:
                        continue
                    intra_a = lambda r, a=a: intra(a, r)  # noqa: E731
                    intra_b = lambda r, b=b: intra(b, r)  # noqa: E731
                    out['soft_vcl'] = (out['soft_vcl'] + kl(intra_a, intra_b) +
                                       kl(intra_b, intra_a))
                    out['vcl'] = out['vcl'] + sup_con(intra_a) + sup_con(intra_b)
    return out


def reference_terms(channels):
    """The authors' code for these views: MCL with one view per member, else L-MCL."""
    return naive_lmcl_terms if any(len(member) > 1 for member in channels) else naive_terms


def memoised(rows):
    """The same row tensors for repeated calls (the reference computes each logit map once
    per call; memoising only saves time, the values and graphs are the same)."""
    cache = {}

    def cached(*key):
        if key not in cache:
            cache[key] = rows(*key)
        return cache[key]

    return cached


def naive_in_batch(E, labels, tau, T, terms=naive_terms):
    """losses/cifar_sup_mcl_loss.py (``terms=naive_lmcl_terms``: the layer-wise
    losses/cifar_sup_layer_mcl_meta_loss.py), loop form, with views E[(i, k)] (R, D)."""
    R = next(iter(E.values())).shape[0]

    def masks(a):  # other samples of the class; the diagonal left out
        return [labels[b] == labels[a] and b != a for b in range(R)], [b != a for b in range(R)]

    def intra(v, a):
        return ([E[v][a] @ E[v][b] / tau for b in range(R)], ) + tuple(masks(a))

    def inter(v, w, a):
        row = [E[v][a] @ E[w][b] / tau for b in range(R)]
        if labels is None:  # label-free: the same sample in the other member, all columns
            return row, [b == a for b in range(R)], [True] * R
        return (row, ) + tuple(masks(a))

    return terms(list(E), R, memoised(intra), memoised(inter), T, labels is not None)


def naive_memory(E, memories, memory_labels, idx, labels, tau, T, pos_k, terms=naive_terms):
    """losses/imagenet_sup_mcl_loss.py (``terms=naive_lmcl_terms``: the layer-wise
    losses/imagenet_sup_layer_mcl_meta_loss.py, whose second intra map of a call reads the
    first view's member's memory, ``memory_ + str(a)`` twice: here every view's intra map
    reads its own member's memory, as in the MCL code), loop form: idx (R, 1 + pos_k + neg_k)
    slots."""
    R, K = idx.shape

    def flags(a, c):
        slot, own = int(idx[a, c]), int(idx[a, 0])
        if c == 0:
            return True, True  # own slot: label-free positive
        same = labels is not None and int(memory_labels[slot]) == int(labels[a])
        if c <= pos_k:
            return slot != own and same, slot != own and same
        return False, slot != own and not same

    def row(v, member, a, cols):
        logits = [memories[member][int(idx[a, c])] @ E[v][a] / tau for c in cols]
        pos, valid = zip(*[flags(a, c) for c in cols])
        return logits, pos, valid

    def intra(v, a):
        return row(v, v[0], a, range(1, K))  # reference: idx[:, 1:]

    def inter(v, w, a):
        return row(v, w[0], a, range(K))  # cos_simi_ij = memory_i[idx] . e_j

    return terms(list(E), R, memoised(intra), memoised(inter), T, labels is not None)


def naive_memory_update(memories, memory_labels, E_last, sample_idx, labels, momentum):
    """Sequential update from the pre-step values: the last occurrence of a slot wins."""
    memories = [mem.clone() for mem in memories]
    memory_labels = memory_labels.clone()
    for i, e in enumerate(E_last):
        old = memories[i].clone()
        for b in range(len(sample_idx)):
            slot = int(sample_idx[b])
            memories[i][slot] = F.normalize(momentum * old[slot] + (1 - momentum) * e[b], dim=0)
    if labels is not None:
        for b in range(len(sample_idx)):
            memory_labels[int(sample_idx[b])] = labels[b]
    return memories, memory_labels


# ---------------------------------------------------------------- helpers


def embed(m, feats):
    """The module's projections, keyed by view (i, k)."""
    out = {}
    for i, member in enumerate(feats):
        member = [member] if torch.is_tensor(member) else member
        for k, f in enumerate(member):
            out[i, k] = F.normalize(m.heads[i][k](f), dim=1)
    return out


def identity_heads(m):
    """Make every projection head the identity on non-negative inputs (C == embed_dim)."""
    with torch.no_grad():
        for member in m.heads:
            for head in member:
                for linear in (head[0], head[2]):
                    linear.weight.copy_(torch.eye(*linear.weight.shape))
                    linear.bias.zero_()


def random_feats(channels, B, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(B, c, generator=g, dtype=dtype, requires_grad=True) for c in member]
            for member in channels]


def flat_inputs(feats):
    return [f for member in feats for f in member]


def memory_state(m):
    return {k: v.clone() for k, v in m.state_dict().items() if k.startswith('memory')}


def record_draws(m):
    """Record the (R, 1 + pos_k + neg_k) slots drawn at each step."""
    record, draw = [], m._draw_contrast_idx

    def recorded(*args):
        record.append(draw(*args))
        return record[-1]

    m._draw_contrast_idx = recorded
    return record


def assert_terms_close(out, ref, weights, atol=1e-5):
    for key in KEYS:
        expected = weights[key] * float(ref[key])
        assert out[f'loss_{key}'].item() == pytest.approx(expected, rel=1e-5, abs=atol), key


# ---------------------------------------------------------------- hand cases


def test_hand_case_orthonormal_identical_members():
    """Two identical members, orthonormal embeddings, labels [0, 0, 1], tau = 0.5: every
    in-batch logit off the diagonal is 0, so each anchor with a positive gives log 2; anchor 2
    has none and is skipped (not averaged in as 0); identical members give no soft loss."""
    m = MCLLoss([3, 3], embed_dim=3, tau=0.5, loss_weights=ONES)
    identity_heads(m)
    e = torch.eye(3)
    out = m([e, e.clone()], torch.tensor([0, 0, 1]))
    # VCL: 2 views x log 2; ICL: 2 ordered pairs x log 2
    assert out['loss_vcl'].item() == pytest.approx(2 * math.log(2), rel=1e-6)
    assert out['loss_icl'].item() == pytest.approx(2 * math.log(2), rel=1e-6)
    assert out['loss_soft_vcl'].abs().item() < 1e-6
    assert out['loss_soft_icl'].abs().item() < 1e-6
    # label-free: VCL terms are 0; ICL positive = the same sample, softmax over all 3
    out = m([e, e.clone()])
    expected = -math.log(math.exp(2.) / (math.exp(2.) + 2))
    assert out['loss_icl'].item() == pytest.approx(2 * expected, rel=1e-6)
    assert out['loss_vcl'].item() == 0 and out['loss_soft_vcl'].item() == 0
    # weights scale; a weight of 0 still returns its (attached) key
    m0 = MCLLoss([3, 3], embed_dim=3, tau=0.5, loss_weights=dict(vcl=0., icl=0.25))
    identity_heads(m0)
    out = m0([e, e.clone()], torch.tensor([0, 0, 1]))
    assert set(out) == {f'loss_{k}' for k in KEYS}
    assert out['loss_vcl'].item() == 0 and out['loss_vcl'].requires_grad
    assert out['loss_icl'].item() == pytest.approx(0.5 * math.log(2), rel=1e-6)


def test_hand_case_soft_vcl_two_members():
    """B = 3, labels irrelevant to the soft terms: the rows of intra_0 and intra_1 without the
    diagonal, member 0 learning toward member 1 and vice versa."""
    m = MCLLoss([2, 2], embed_dim=2, tau=1.0, kd_temperature=1.0, loss_weights=ONES)
    identity_heads(m)
    e0 = torch.tensor([[1., 0.], [1., 0.], [0., 1.]])  # intra_0 off-diagonal rows
    e1 = torch.tensor([[1., 0.], [0., 1.], [0., 1.]])
    out = m([e0, e1], torch.tensor([0, 1, 2]))

    def kl(p, q):
        return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))

    def sm(a, b):
        z = math.exp(a) + math.exp(b)
        return [math.exp(a) / z, math.exp(b) / z]

    # rows without the diagonal: intra_0 anchor 0 against samples (1, 2) = (1, 0), anchor 1
    # against (0, 2) = (1, 0), anchor 2 against (0, 1) = (0, 0); likewise for member 1
    rows0 = [sm(1, 0), sm(1, 0), sm(0, 0)]
    rows1 = [sm(0, 0), sm(0, 1), sm(0, 1)]
    expected = (sum(kl(p, q) for p, q in zip(rows1, rows0)) +  # member 0 learns toward 1
                sum(kl(p, q) for p, q in zip(rows0, rows1))) / 3
    assert out['loss_soft_vcl'].item() == pytest.approx(expected, rel=1e-6)
    # all labels distinct: no positive anywhere, the contrastive terms are 0, not NaN
    assert out['loss_vcl'].item() == 0 and out['loss_icl'].item() == 0


def test_hand_case_memory_masks():
    """One anchor, fixed slots [own 0 | same-class 1 | negatives 0, 1, 2, 3] with slot labels
    [0, 0, 1, -1]: the negatives 0 (own) and 1 (same class) leave the softmax."""
    m = MCLLoss([2, 2], embed_dim=2, tau=1.0, loss_weights=ONES,
                memory=dict(num_samples=4, pos_k=1, neg_k=4))
    identity_heads(m)
    slots = torch.tensor([[1., 0.], [0.6, 0.8], [0., 1.], [0.8, 0.6]])
    with torch.no_grad():
        m.memory_0.copy_(slots)
        m.memory_1.copy_(slots)
        m.memory_labels.copy_(torch.tensor([0, 0, 1, -1]))
    m._draw_contrast_idx = lambda *args: torch.tensor([[0, 1, 0, 1, 2, 3]])
    e0, e1 = torch.tensor([[1., 0.]]), torch.tensor([[0., 1.]])
    out = m([e0, e1], torch.tensor([0]), sample_idx=torch.tensor([0]))
    E = math.exp
    # member 0 (e0): logits against the slots 0..3: 1, 0.6, 0, 0.8; member 1: 0, 0.8, 1, 0.6
    # ICL: slots 0 and 1 positive, negatives 2 and 3 (0 and 1 again are masked)
    lse0 = math.log(E(1) + E(.6) + E(0) + E(.8))
    lse1 = math.log(E(0) + E(.8) + E(1) + E(.6))
    icl = -((1 - lse0) + (.6 - lse0)) / 2 - ((0 - lse1) + (.8 - lse1)) / 2
    # VCL: without the own slot: slot 1 positive, negatives 2 and 3
    vcl = -(.6 - math.log(E(.6) + E(0) + E(.8))) - (.8 - math.log(E(.8) + E(1) + E(.6)))
    assert out['loss_icl'].item() == pytest.approx(icl, rel=1e-6)
    assert out['loss_vcl'].item() == pytest.approx(vcl, rel=1e-6)
    # update: normalize(0.5 slot + 0.5 e), the label written
    torch.testing.assert_close(m.memory_0[0], torch.tensor([1., 0.]))
    torch.testing.assert_close(m.memory_1[0], torch.tensor([0.5, 0.5]) / math.sqrt(0.5))
    torch.testing.assert_close(m.memory_0[1:], slots[1:])
    assert m.memory_labels.tolist() == [0, 0, 1, -1]


# ---------------------------------------------------------------- in-batch parity

IN_BATCH_CASES = [
    ([[6], [4]], [0, 0, 1, 1, 1, 2]),  # 2 members, heterogeneous; class 2 has no positive
    ([[5], [3], [4]], [0, 1, 0, 1, 2, 2]),  # 3 members
    ([[5, 3], [4, 6]], [0, 0, 1, 1, 2, 3]),  # layer-wise, 2 stages each
    ([[5, 3], [4]], None),  # label-free, uneven stages
]


@pytest.mark.parametrize('channels,labels', IN_BATCH_CASES)
def test_in_batch_parity_with_loop_reference(channels, labels):
    weights = dict(vcl=0.3, soft_vcl=0.7, icl=1.1, soft_icl=0.9)
    m = MCLLoss(channels, embed_dim=8, tau=0.2, kd_temperature=2.0, loss_weights=weights).double()
    feats = random_feats(channels, 6, seed=len(channels))
    labels = None if labels is None else torch.tensor(labels)
    out = m(feats, labels)
    ref = naive_in_batch(embed(m, feats), labels, 0.2, 2.0, reference_terms(channels))
    assert_terms_close(out, ref, weights)
    # gradients into the inputs and the heads, every term (soft targets detached as there)
    params = flat_inputs(feats) + list(m.parameters())
    for key in KEYS:
        if ref[key] == 0.:
            assert out[f'loss_{key}'].item() == 0
            continue
        grads = torch.autograd.grad(out[f'loss_{key}'], params, retain_graph=True)
        ref_grads = torch.autograd.grad(weights[key] * ref[key], params, retain_graph=True)
        for g, g_ref in zip(grads, ref_grads):
            torch.testing.assert_close(g, g_ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize('N', [2, 3])
def test_term_counts_mcl_and_lmcl(N):
    """Identical views everywhere: every view gives the same VCL value x and every ordered pair
    of views of different members the same ICL value y (the soft terms are 0). MCL (one view
    per member) counts each once, as winycg/MCL: N x and N (N - 1) y. L-MCL (S >= 2 views) as
    winycg/L-MCL: every view's VCL 2 (N - 1) S times, every ordered pair's terms twice, i.e.
    2 N (N - 1) S² x and 2 N (N - 1) S² y. Counting as MCL does would fall short of the authors'
    by 1 / (2 (N - 1) S) for VCL and 1/2 for the pair terms."""
    torch.manual_seed(0)
    feat = torch.randn(6, 4)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    head = MCLLoss([4, 4], embed_dim=8).heads[0][0]

    def cohort(channels):
        m = MCLLoss(channels, embed_dim=8, loss_weights=ONES)
        for member in m.heads:
            for k in range(len(member)):
                member[k] = copy.deepcopy(head)
        assert m.layerwise == any(len(member) > 1 for member in channels)
        return m([[feat] * len(member) for member in channels], labels)

    base = cohort([[4], [4]])
    x, y = base['loss_vcl'].item() / 2, base['loss_icl'].item() / 2
    assert x > 0 and y > 0
    mcl = cohort([[4]] * N)
    assert mcl['loss_vcl'].item() == pytest.approx(N * x, rel=1e-6)
    assert mcl['loss_icl'].item() == pytest.approx(N * (N - 1) * y, rel=1e-6)
    outs = [mcl]
    for S in (2, 3, 4):
        out = cohort([[4] * S] * N)
        assert out['loss_vcl'].item() == pytest.approx(2 * (N - 1) * S * N * S * x, rel=1e-6)
        assert out['loss_icl'].item() == pytest.approx(2 * N * (N - 1) * S * S * y, rel=1e-6)
        outs.append(out)
    # uneven views (2 + 1 + ...): view counts 2 * (views of the other members)
    sizes = [2] + [1] * (N - 1)
    out = cohort([[4] * n for n in sizes])
    total = sum(sizes)
    vcl_units = sum(n * 2 * (total - n) for n in sizes)
    pair_units = sum(a * b for i, a in enumerate(sizes) for j, b in enumerate(sizes) if i != j)
    assert out['loss_vcl'].item() == pytest.approx(vcl_units * x, rel=1e-6)
    assert out['loss_icl'].item() == pytest.approx(2 * pair_units * y, rel=1e-6)
    for out in outs + [base]:
        assert out['loss_soft_vcl'].abs().item() < 1e-5
        assert out['loss_soft_icl'].abs().item() < 1e-5


def lmcl_channels(N, S):
    """Heterogeneous channels: member i's view k has 3 + (i + 2k) % 4 channels."""
    return [[3 + (i + 2 * k) % 4 for k in range(S)] for i in range(N)]


@pytest.mark.parametrize('form', ['in_batch', 'memory'])
@pytest.mark.parametrize('N,S', [(2, 2), (2, 3), (2, 4), (3, 2), (3, 3), (3, 4)])
def test_lmcl_parity_with_authors_layer_wise_loop(N, S, form):
    """L-MCL: the four terms (values and gradients, term by term) equal the authors'
    layer-wise loss with uniform pair weights written as their loops (naive_lmcl_terms), for N
    members of S views, in-batch (their CIFAR code) and memory (their ImageNet code) forms, so
    that loss_weights mean the paper's weights."""
    weights = dict(vcl=0.3, soft_vcl=0.7, icl=1.1, soft_icl=0.9)
    channels = lmcl_channels(N, S)
    memory = None if form == 'in_batch' else dict(num_samples=12, pos_k=2, neg_k=7)
    m = MCLLoss(channels, embed_dim=8, tau=0.2, kd_temperature=2.0, loss_weights=weights,
                memory=memory).double()
    assert m.layerwise
    feats = random_feats(channels, 6, seed=10 * N + S)
    sample_idx = torch.tensor([0, 4, 5, 7, 9, 11])
    labels = SLOT_LABELS[sample_idx]  # 0, 1, 2, 1, 0, 3: classes 2 and 3 without a positive
    if memory is None:
        out = m(feats, labels)
        ref = naive_in_batch(embed(m, feats), labels, 0.2, 2.0, naive_lmcl_terms)
    else:
        with torch.no_grad():
            m.memory_labels.copy_(SLOT_LABELS)  # all seen: same-class slots to draw
        record = record_draws(m)
        before = memory_state(m)
        out = m(feats, labels, sample_idx)
        memories = [before[f'memory_{i}'] for i in range(N)]
        ref = naive_memory(embed(m, feats), memories, before['memory_labels'], record[-1],
                           labels, 0.2, 2.0, pos_k=2, terms=naive_lmcl_terms)
        valid_pos = m._contrast_masks(record[-1], labels)[0]
        assert valid_pos.any()  # same-class slots took part
    assert_terms_close(out, ref, weights)
    params = flat_inputs(feats) + list(m.parameters())
    for key in KEYS:
        assert float(ref[key]) > 0, key
        grads = torch.autograd.grad(out[f'loss_{key}'], params, retain_graph=True)
        ref_grads = torch.autograd.grad(weights[key] * ref[key], params, retain_graph=True)
        for g, g_ref in zip(grads, ref_grads):
            torch.testing.assert_close(g, g_ref, rtol=1e-6, atol=1e-8)


def test_no_positive_no_nan_and_skipped_anchor_mean():
    m = MCLLoss([4, 5], embed_dim=6, loss_weights=ONES).double()
    feats = random_feats([[4], [5]], 5, seed=1)
    out = m(feats, torch.arange(5))  # all labels distinct: no anchor has a positive
    assert out['loss_vcl'].item() == 0 and out['loss_icl'].item() == 0
    assert all(torch.isfinite(v) for v in out.values()) and out['loss_vcl'].requires_grad
    sum(out.values()).backward()
    assert all(torch.isfinite(f.grad).all() for f in flat_inputs(feats))
    # one pair of class 0, the rest singletons: the mean is over the two anchors that have a
    # positive, so duplicating a singleton class does not change it
    E = embed(m, feats)
    out = m(feats, torch.tensor([0, 0, 1, 2, 3]))
    logits = E[0, 0] @ E[0, 0].t() / m.tau
    lse = torch.logsumexp(logits.masked_fill(torch.eye(5, dtype=torch.bool), float('-inf')), 1)
    vcl0 = -((logits[0, 1] - lse[0]) + (logits[1, 0] - lse[1])) / 2
    logits = E[1, 0] @ E[1, 0].t() / m.tau
    lse = torch.logsumexp(logits.masked_fill(torch.eye(5, dtype=torch.bool), float('-inf')), 1)
    vcl1 = -((logits[0, 1] - lse[0]) + (logits[1, 0] - lse[1])) / 2
    assert out['loss_vcl'].item() == pytest.approx((vcl0 + vcl1).item(), rel=1e-8)
    # a batch of one: nothing to contrast, all finite zeros
    out = m([f[:1] for f in flat_inputs(feats)], torch.tensor([0]))
    assert all(v.item() == 0 for v in out.values())


def test_soft_targets_are_detached():
    """Each KL term moves its student only: member 0's gradient of a soft term is that of the
    two KLs with detached targets, not of the KLs with attached targets."""
    m = MCLLoss([4, 5], embed_dim=6, kd_temperature=2.0, loss_weights=ONES).double()
    feats = random_feats([[4], [5]], 6, seed=2)
    x0 = feats[0][0]
    out = m(feats, torch.tensor([0, 0, 1, 1, 2, 2]))
    E = embed(m, feats)
    valid = ~torch.eye(6, dtype=torch.bool)

    def attached_kl(s, t):  # KL(softmax(t / 2) || softmax(s / 2)) * 4, t NOT detached
        log_p = (t.masked_fill(~valid, -1e9) / 2).log_softmax(1)
        log_q = (s.masked_fill(~valid, -1e9) / 2).log_softmax(1)
        return (log_p.exp() * (log_p - log_q)).sum() / 6 * 4

    intra = [E[i, 0] @ E[i, 0].t() / m.tau for i in range(2)]
    inter = [E[0, 0] @ E[1, 0].t() / m.tau, E[1, 0] @ E[0, 0].t() / m.tau]
    for key, (a, b) in (('loss_soft_vcl', intra), ('loss_soft_icl', inter)):
        grad, = torch.autograd.grad(out[key], x0, retain_graph=True)
        detached = row_kl(a, b, valid, 2.0) + row_kl(b, a, valid, 2.0)
        attached = attached_kl(a, b) + attached_kl(b, a)
        assert detached.item() == pytest.approx(attached.item(), rel=1e-6)
        torch.testing.assert_close(grad, torch.autograd.grad(detached, x0, retain_graph=True)[0])
        grad_attached, = torch.autograd.grad(attached, x0, retain_graph=True)
        assert (grad_attached - grad).abs().max() > 1e-4
    # the helper itself gives the target no gradient
    s = torch.randn(3, 4, requires_grad=True)
    t = torch.randn(3, 4, requires_grad=True)
    g_s, g_t = torch.autograd.grad(row_kl(s, t, torch.ones(3, 4, dtype=torch.bool), 3.),
                                   (s, t), allow_unused=True)
    assert g_s.abs().sum() > 0 and g_t is None


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_additive_fill_masks_equal_minus_inf_masking(dtype):
    """The float fills and the analytic gradients give the values and gradients of masking
    with -inf and autograd (the former form), rows without a valid entry and rows without a
    positive included; a left-out entry gets exactly no gradient."""
    g = torch.Generator().manual_seed(3)
    logits = (torch.randn(7, 9, generator=g, dtype=torch.float64) * 10).to(dtype)
    valid = torch.rand(7, 9, generator=g) < 0.6
    valid[2] = False  # no valid entry
    pos = valid & (torch.rand(7, 9, generator=g) < 0.4)
    pos[4] = False  # no positive

    def sup_con_inf(x):
        keep = valid | ~valid.any(1, keepdim=True)
        log_prob = F.log_softmax(x.masked_fill(~keep, float('-inf')), dim=1)
        num_pos = pos.sum(1)
        mean = log_prob.masked_fill(~pos, 0.).sum(1) / num_pos.clamp_min(1)
        return -(mean * (num_pos > 0)).sum() / (num_pos > 0).sum().clamp_min(1)

    def row_kl_inf(s, t, T):
        nonempty = valid.any(1)
        invalid = ~(valid | ~nonempty[:, None])
        log_q = F.log_softmax(s.masked_fill(invalid, float('-inf')) / T, dim=1)
        log_p = F.log_softmax(t.masked_fill(invalid, float('-inf')) / T, dim=1)
        ratio = (log_p - log_q).masked_fill(invalid, 0.)
        return ((log_p.exp() * ratio).sum(1) * nonempty).sum() / s.shape[0] * (T * T)

    teacher = (torch.randn(7, 9, generator=g, dtype=torch.float64) * 10).to(dtype)
    left_out = ~valid & valid.any(1, keepdim=True)
    for ours, former, supervised in ((lambda x: sup_con(x, pos, valid), sup_con_inf, True),
                                     (lambda x: row_kl(x, teacher, valid, 3.),
                                      lambda x: row_kl_inf(x, teacher, 3.), False)):
        a = logits.clone().requires_grad_(True)
        b = logits.clone().requires_grad_(True)
        va, vb = ours(a), former(b)
        va.backward()
        vb.backward()
        assert torch.isfinite(va) and va.item() > 0
        torch.testing.assert_close(va, vb)
        torch.testing.assert_close(a.grad, b.grad)
        assert torch.isfinite(a.grad).all() and not a.grad[left_out].any()
        assert not a.grad[2].any() and not (supervised and a.grad[4].any())


# ---------------------------------------------------------------- memory form

SLOT_LABELS = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 3])  # class 3: one sample
STEPS = [torch.arange(0, 6), torch.arange(6, 12), torch.tensor([0, 2, 4, 7, 8, 8]),
         torch.tensor([11, 9, 3, 3, 1, 5])]  # duplicates: as after a gather, or a sampler


@pytest.mark.parametrize('channels,with_labels', [([[6], [4]], True), ([[5, 3], [4, 6]], True),
                                                  ([[5], [3], [4]], False)])
def test_memory_parity_with_loop_reference(channels, with_labels):
    """Four steps (labels filled as seen, duplicate indices): losses, gradients, memories."""
    weights = dict(vcl=0.3, soft_vcl=0.7, icl=1.1, soft_icl=0.9)
    m = MCLLoss(channels, embed_dim=8, tau=0.2, kd_temperature=2.0, loss_weights=weights,
                memory=dict(num_samples=12, pos_k=2, neg_k=9, momentum=0.4)).double()
    record = record_draws(m)
    for step, sample_idx in enumerate(STEPS):
        feats = random_feats(channels, 6, seed=10 + step)
        labels = SLOT_LABELS[sample_idx] if with_labels else None
        before = memory_state(m)
        memories = [before[f'memory_{i}'] for i in range(len(channels))]
        out = m(feats, labels, sample_idx)
        E = embed(m, feats)
        ref = naive_memory(E, memories, before['memory_labels'], record[-1], labels, 0.2, 2.0,
                           pos_k=2, terms=reference_terms(channels))
        assert_terms_close(out, ref, weights)
        total = sum(out.values())
        ref_total = sum(weights[k] * ref[k] for k in KEYS)
        params = flat_inputs(feats) + list(m.parameters())
        for g, g_ref in zip(torch.autograd.grad(total, params),
                            torch.autograd.grad(ref_total, params)):
            torch.testing.assert_close(g, g_ref, rtol=1e-6, atol=1e-8)
        last = [E[i, len(member) - 1].detach() for i, member in enumerate(channels)]
        memories, memory_labels = naive_memory_update(memories, before['memory_labels'], last,
                                                      sample_idx, labels, 0.4)
        for i in range(len(channels)):
            torch.testing.assert_close(getattr(m, f'memory_{i}'), memories[i], rtol=0,
                                       atol=1e-12)
        assert torch.equal(m.memory_labels, memory_labels)
    if with_labels:
        assert torch.equal(m.memory_labels, SLOT_LABELS)  # every sample seen once
        # same-class slots were drawn and used (some ICL/VCL positives beyond the own slot)
        idx = record[-1]
        assert (SLOT_LABELS[idx[:, 1:3]] == SLOT_LABELS[idx[:, :1]]).any()
    else:
        assert (m.memory_labels == -1).all()


def test_memory_draws():
    """Same-class slots: distinct, of the anchor's class, never the own slot; the own slot where
    the class has too few. Negatives: uniform over all slots."""
    m = MCLLoss([4, 4], embed_dim=4, memory=dict(num_samples=10, pos_k=2, neg_k=500))
    with torch.no_grad():
        m.memory_labels.copy_(torch.tensor([0, 0, 0, 1, 1, 2, -1, 0, -1, -1]))
    own = torch.tensor([0, 3, 6, 8])
    labels = torch.tensor([0, 1, 2, 3])
    seen = set()
    for seed in range(30):
        idx = m._draw_contrast_idx(own, labels, torch.Generator().manual_seed(seed))
        assert idx.shape == (4, 1 + 2 + 500) and torch.equal(idx[:, 0], own)
        pos = idx[:, 1:3]
        # class 0 (slots 0, 1, 2, 7), own 0: two distinct of 1, 2, 7
        assert set(pos[0].tolist()) <= {1, 2, 7} and pos[0, 0] != pos[0, 1]
        seen |= set(pos[0].tolist())
        # class 1 (slots 3, 4), own 3: slot 4 and the own slot (masked)
        assert sorted(pos[1].tolist()) == [3, 4]
        # class 2 (slot 5), own slot 6 unseen: slot 5 and the own slot
        assert sorted(pos[2].tolist()) == [5, 6]
        assert pos[3].tolist() == [8, 8]  # no slot of class 3
        pos_valid, neg_valid = m._contrast_masks(idx, labels)
        assert pos_valid.tolist() == [[True, True], [pos[1, 0] == 4, pos[1, 1] == 4],
                                      [pos[2, 0] == 5, pos[2, 1] == 5], [False, False]]
        neg = idx[:, 3:]
        same = m.memory_labels[neg] == labels[:, None]
        assert torch.equal(neg_valid, (neg != own[:, None]) & ~same)
        assert neg_valid[0][neg[0] == 0].sum() == 0 and neg_valid[0][neg[0] == 7].sum() == 0
        counts = torch.bincount(neg.reshape(-1), minlength=10)
        assert counts.min() > 0.6 * counts.float().mean()
    assert seen == {1, 2, 7}
    # label-free: only the own slot, always masked, and only it leaves the negatives
    idx = m._draw_contrast_idx(own, None, torch.Generator().manual_seed(0))
    assert torch.equal(idx[:, 1:3], own[:, None].expand(4, 2))
    pos_valid, neg_valid = m._contrast_masks(idx, None)
    assert not pos_valid.any() and torch.equal(neg_valid, idx[:, 3:] != own[:, None])


def test_memory_update_rule_and_eval_mode():
    m = MCLLoss([[3, 4], [5]], embed_dim=6, memory=dict(num_samples=8, neg_k=5))
    before = memory_state(m)
    # the reference's init: uniform in [-stdv, stdv), stdv = 1 / sqrt(D / 3)
    stdv = 1 / math.sqrt(6 / 3)
    assert before['memory_0'].abs().max() <= stdv and before['memory_0'].std() > 0.3 * stdv
    assert not torch.equal(before['memory_0'], before['memory_1'])
    feats = [[torch.randn(4, 3), torch.randn(4, 4)], torch.randn(4, 5)]
    sample_idx = torch.tensor([5, 1, 5, 2])  # slot 5 twice: the later occurrence (3rd) wins
    m(feats, torch.tensor([1, 0, 1, 2]), sample_idx)
    E = embed(m, feats)
    for i, e in enumerate((E[0, 1], E[1, 0])):  # the last views
        memory, old = getattr(m, f'memory_{i}'), before[f'memory_{i}']
        for b in (1, 2, 3):
            expected = F.normalize(0.5 * old[sample_idx[b]] + 0.5 * e[b].detach(), dim=0)
            torch.testing.assert_close(memory[sample_idx[b]], expected)
        untouched = [0, 3, 4, 6, 7]
        assert torch.equal(memory[untouched], old[untouched])
    assert m.memory_labels.tolist() == [-1, 0, 2, -1, -1, 1, -1, -1]
    assert _last_occurrence(torch.tensor([5, 1, 5, 2, 1])).tolist() == [4, 3, 2]
    # evaluation mode: losses only, the memories stay
    m.eval()
    state = memory_state(m)
    m(feats, torch.tensor([1, 0, 1, 2]), sample_idx)
    for key, value in memory_state(m).items():
        assert torch.equal(value, state[key])


def test_memory_state_dict_round_trip():
    cfg = dict(in_channels=[[4, 3], [5]], embed_dim=6, memory=dict(num_samples=12, neg_k=7))
    m1 = MCLLoss(**cfg, seed=3)
    torch.manual_seed(0)
    for sample_idx in STEPS[:2]:
        m1([[torch.randn(6, 4), torch.randn(6, 3)], torch.randn(6, 5)],
           SLOT_LABELS[sample_idx], sample_idx)
    buf = io.BytesIO()
    torch.save(m1.state_dict(), buf)
    buf.seek(0)
    m2 = MCLLoss(**cfg, seed=99)
    m2.load_state_dict(torch.load(buf, weights_only=True))
    assert '_extra_state' in m1.state_dict()
    for key, value in memory_state(m1).items():
        assert torch.equal(value, memory_state(m2)[key])
    assert torch.equal(m1.generator.get_state(), m2.generator.get_state())
    feats = [[torch.randn(6, 4), torch.randn(6, 3)], torch.randn(6, 5)]
    sample_idx = STEPS[2]
    out1 = m1(feats, SLOT_LABELS[sample_idx], sample_idx)
    out2 = m2(feats, SLOT_LABELS[sample_idx], sample_idx)
    for key in out1:
        assert torch.equal(out1[key], out2[key])
    for key, value in memory_state(m1).items():
        assert torch.equal(value, memory_state(m2)[key])
    # a deep copy (e.g. for EMA) carries the generator state too
    m3 = copy.deepcopy(m1)
    assert torch.equal(m3(feats, None, sample_idx)['loss_icl'],
                       m1(feats, None, sample_idx)['loss_icl'])


# ---------------------------------------------------------------- pixel sampling


@pytest.mark.parametrize('channels_last', [False, True])
def test_point_gather_equals_advanced_indexing(channels_last):
    g = torch.Generator().manual_seed(0)
    B, C, h, w = 3, 5, 4, 6
    feat = torch.randn(B, C, h, w, generator=g, dtype=torch.float64)
    if channels_last:
        feat = feat.contiguous(memory_format=torch.channels_last)
    # distinct points, ascending, none in image 1
    picked = torch.tensor([0, 3, 7, 23, 2 * h * w + 1, 2 * h * w + 20])
    batch, pos = picked // (h * w), picked % (h * w)
    counts = tuple(torch.bincount(batch, minlength=B).tolist())
    assert counts == (4, 0, 2)
    feat.requires_grad_(True)
    out = _PointGather.apply(feat, pos, counts)
    ref = feat[batch, :, pos // w, pos % w]
    assert out.shape == (6, C) and out.is_contiguous() and torch.equal(out, ref)
    upstream = torch.randn(6, C, generator=g, dtype=torch.float64)
    grad, = torch.autograd.grad(out, feat, upstream)
    grad_ref, = torch.autograd.grad(ref, feat, upstream)
    assert torch.equal(grad, grad_ref)
    assert torch.autograd.gradcheck(lambda f: _PointGather.apply(f, pos, counts), (feat, ))
    assert torch.autograd.gradgradcheck(lambda f: _PointGather.apply(f, pos, counts), (feat, ))


def test_bilinear_points_match_interpolate():
    g = torch.Generator().manual_seed(0)
    for in_size, out_size in (((3, 5), (8, 7)), ((9, 8), (4, 3)), ((4, 4), (4, 6))):
        feat = torch.randn(2, 3, *in_size, generator=g)
        resized = F.interpolate(feat, out_size, mode='bilinear', align_corners=False)
        batch, y, x = torch.meshgrid(torch.arange(2), torch.arange(out_size[0]),
                                     torch.arange(out_size[1]), indexing='ij')
        points = _bilinear_points(feat, batch.reshape(-1), y.reshape(-1), x.reshape(-1), out_size)
        torch.testing.assert_close(points, resized.permute(0, 2, 3, 1).reshape(-1, 3))


def test_cohort_terms_gradcheck():
    """The analytic backward of the fused terms against finite differences (float64): two
    matrices with a supervised term each, students of one and of two KL terms, rows without a
    positive and without a valid entry, a transposed (non-contiguous) input as the in-batch
    form's e_w e_v^T. The teachers are constants here (their detachment is checked by
    test_soft_targets_are_detached); a teacher gets no gradient."""
    g = torch.Generator().manual_seed(5)
    valid = torch.rand(6, 7, generator=g) < 0.7
    valid[1] = False
    pos = valid & (torch.rand(6, 7, generator=g) < 0.4)
    pos[3] = False
    e = _entries(pos, valid, torch.float64)
    teachers = [torch.randn(6, 7, generator=g, dtype=torch.float64) for _ in range(2)]
    sup = [(0, 0, 2.), (1, 2, 1.)]
    kl = [(0, 2, 1, 1.), (1, 3, 3, 2.), (1, 2, 3, 1.)]

    def terms(a, b, c=teachers[0]):
        out = _CohortTerms.apply(1. / 0.3, 1.7, [e] * 4, sup, kl, a, b, c, teachers[1])
        return out * torch.tensor([1., 2., 3., 4.], dtype=out.dtype)

    students = [torch.randn(6, 7, generator=g, dtype=torch.float64, requires_grad=True)
                for _ in range(2)]
    assert torch.autograd.gradcheck(terms, students)
    base = torch.randn(7, 6, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: terms(students[0], x.t()), (base, ))
    teacher = teachers[0].clone().requires_grad_(True)
    assert torch.autograd.grad(terms(*students, teacher).sum(), teacher,
                               allow_unused=True)[0] is None


def test_second_order_gradients_raise_and_saved_tensors_are_freed():
    """create_graph=True through the fused terms is an error (their backward is analytic and
    first-order), not a silently constant gradient; retain_graph still allows a second
    backward; what the terms keep for backward is freed by it."""
    m = MCLLoss([4, 5], embed_dim=6).double()
    feats = random_feats([[4], [5]], 8, seed=6)
    x0 = feats[0][0]
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    with pytest.raises(RuntimeError, match='no second-order gradients'):
        torch.autograd.grad(sum(m(feats, labels).values()), x0, create_graph=True)
    total = sum(m(feats, labels).values())
    g1, = torch.autograd.grad(total, x0, retain_graph=True)
    g2, = torch.autograd.grad(total, x0)
    assert torch.equal(g1, g2) and g1.abs().sum() > 0
    out = m(feats, labels)['loss_vcl']
    node = out.grad_fn
    while type(node).__name__ != '_CohortTermsBackward':
        node = node.next_functions[0][0]
    assert len(node.saved_tensors) > 0  # the softmaxes, weights and masks
    out.backward()
    with pytest.raises(RuntimeError, match='freed'):
        node.saved_tensors
    # e e^T's backward is differentiable (second order through it is exact)
    e = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(_Gram.apply, (e, ))


@pytest.mark.parametrize('num_keys', [1, 39, 1 << 16, (1 << 16) + 5])
def test_stable_argsort_equals_torch(num_keys):
    """The radix path (numpy, up to 2^16 keys) and torch's path keep ties in order."""
    g = torch.Generator().manual_seed(num_keys)
    keys = torch.randint(num_keys, (5000, ), generator=g)
    keys[:300] = num_keys - 1  # ties at the largest key
    out = _stable_argsort(keys, num_keys)
    assert out.dtype == torch.long and torch.equal(out, torch.argsort(keys, stable=True))


def test_pixel_sampling_positions():
    m = MCLLoss([4, 4], pixel_sampling=dict(pixels_per_class=5))
    gt = torch.randint(0, 4, (3, 16, 20), generator=torch.Generator().manual_seed(1))
    gt[0, :6] = 255
    gt[1, :, :] = 2
    gt[1, 0, 0] = 1
    gt[2] = 255
    picked, labels = m._sample_pixel_positions(gt, (8, 10), torch.Generator().manual_seed(0))
    down = F.interpolate(gt[:, None].float(), (8, 10), mode='nearest')[:, 0].long()
    assert torch.equal(labels, down.reshape(-1)[picked]) and (labels != 255).all()
    assert torch.equal(picked, torch.unique(picked))
    image = picked // 80
    for b in range(3):
        for c in range(4):
            available = int((down[b] == c).sum())
            assert int(((image == b) & (labels == c)).sum()) == min(available, 5)
    other = m._sample_pixel_positions(gt, (8, 10), torch.Generator().manual_seed(1))[0]
    assert not torch.equal(other, picked)  # random within a class


def test_pixel_sampling_equals_in_batch_on_sampled_pixels():
    """Dense members of different sizes: the features at the sampled pixels (member 1 resized
    to member 0's grid) fed to the in-batch form give the same losses."""
    weights = dict(vcl=0.3, soft_vcl=0.7, icl=1.1, soft_icl=0.9)
    pm = MCLLoss([5, 7], embed_dim=8, loss_weights=weights,
                 pixel_sampling=dict(pixels_per_class=4, ignore_index=255))
    im = MCLLoss([5, 7], embed_dim=8, loss_weights=weights)
    im.load_state_dict(pm.state_dict())
    g = torch.Generator().manual_seed(2)
    feats = [torch.randn(2, 5, 6, 8, generator=g), torch.randn(2, 7, 3, 4, generator=g)]
    gt = torch.randint(0, 3, (2, 24, 32), generator=g)
    gt[0, :10] = 255
    only_first = gt.clone()
    only_first[1] = 255  # the second image entirely ignored: no points there
    record, sample = [], pm._sample_pixel_positions
    pm._sample_pixel_positions = lambda *a: record.append(sample(*a)) or record[-1]
    for labels_map in (gt, only_first):
        record.clear()
        out = pm(feats, labels_map)
        picked, labels = record[0]
        rows = [F.interpolate(f, (6, 8), mode='bilinear', align_corners=False).permute(
            0, 2, 3, 1).reshape(-1, f.shape[1])[picked] for f in feats]
        ref = im(rows, labels)
        for key in out:
            assert out[key].item() == pytest.approx(ref[key].item(), rel=1e-5, abs=1e-6)
    assert bool((picked < 6 * 8).all())  # all points in the first image
    # all pixels ignored: finite zeros, attached
    feats = [f.requires_grad_() for f in feats]
    out = pm(feats, torch.full((2, 24, 32), 255))
    assert all(v.item() == 0 and v.requires_grad for v in out.values())
    sum(out.values()).backward()
    assert all(torch.isfinite(f.grad).all() for f in feats)


# ---------------------------------------------------------------- precision, MutualKDLoss


def test_autocast_bfloat16_inputs_give_float32_losses():
    torch.manual_seed(0)
    feats = [torch.randn(8, 16, requires_grad=True), torch.randn(8, 12, requires_grad=True)]
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for memory in (None, dict(num_samples=16, neg_k=12)):
        m = MCLLoss([16, 12], tau=0.07, memory=memory)
        m_ref = copy.deepcopy(m)
        ref = m_ref([f.bfloat16().float() for f in feats], labels, torch.arange(8))
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = m([f.bfloat16() for f in feats], labels, torch.arange(8))
        for key in out:
            assert out[key].dtype == torch.float32 and torch.isfinite(out[key])
            assert out[key].item() == pytest.approx(ref[key].item(), rel=1e-5, abs=1e-6)
        sum(out.values()).backward()
        assert all(f.grad.dtype == torch.float32 and torch.isfinite(f.grad).all() for f in feats)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = MutualKDLoss()([torch.randn(4, 5).bfloat16(), torch.randn(4, 5).bfloat16()])
    assert loss.dtype == torch.float32


def test_mutual_kd_hand_case_and_detach():
    # T = 1, two members: mean = (log 3 / 2, 0)
    a = torch.tensor([[0., 0.]], requires_grad=True)
    b = torch.tensor([[math.log(3.), 0.]], requires_grad=True)
    p1 = math.sqrt(3) / (math.sqrt(3) + 1)
    p = [p1, 1 - p1]

    def kl(q):
        return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))

    loss = MutualKDLoss(temperature=1.0, loss_weight=0.5)([a, b])
    assert loss.item() == pytest.approx(0.5 * (kl([0.5, 0.5]) + kl([0.75, 0.25])), rel=1e-6)
    # T = 2 on doubled logits: the same distributions, times T²; rows average (dense logits)
    loss = MutualKDLoss(temperature=2.0)([(2 * a)[:, :, None, None].expand(1, 2, 3, 2),
                                          (2 * b)[:, :, None, None].expand(1, 2, 3, 2)])
    assert loss.item() == pytest.approx(4 * (kl([0.5, 0.5]) + kl([0.75, 0.25])), rel=1e-6)
    # the mean is a detached target: member a's gradient is that of its own KL only
    logits = [torch.randn(5, 7, requires_grad=True) for _ in range(3)]
    loss = MutualKDLoss(temperature=3.0)(logits)
    grad, = torch.autograd.grad(loss, logits[0])
    target = F.softmax(torch.stack(logits).mean(0).detach() / 3, 1)
    own = F.kl_div(F.log_softmax(logits[0] / 3, 1), target, reduction='batchmean') * 9
    torch.testing.assert_close(grad, torch.autograd.grad(own, logits[0])[0])
    with pytest.raises(ValueError, match='at least two members'):
        MutualKDLoss()([torch.randn(2, 3)])
    with pytest.raises(ValueError, match='same shape'):
        MutualKDLoss()([torch.randn(2, 3), torch.randn(2, 4)])


# ---------------------------------------------------------------- configuration errors


def test_config_and_input_errors():
    with pytest.raises(ValueError, match='in_channels.*at least two members'):
        MCLLoss([8])
    with pytest.raises(ValueError, match='loss_weights.*unknown'):
        MCLLoss([4, 4], loss_weights=dict(kd=1.))
    with pytest.raises(ValueError, match='pixel_sampling.*in-batch'):
        MCLLoss([4, 4], memory=dict(num_samples=4), pixel_sampling=dict())
    with pytest.raises(ValueError, match=r"memory needs the keys \['num_samples'\]"):
        MCLLoss([4, 4], memory=dict(neg_k=4))
    m = MCLLoss([[4, 6], [5]])
    with pytest.raises(ValueError, match=r'member 1, view 0\) has 6 channels, expected '
                       r'in_channels\[1\]\[0\]=5'):
        m([[torch.randn(2, 4), torch.randn(2, 6)], torch.randn(2, 6)])
    with pytest.raises(ValueError, match='member 0 has 1 views'):
        m([torch.randn(2, 4), torch.randn(2, 5)])
    with pytest.raises(ValueError, match='list of 2 members'):
        m([torch.randn(2, 4)])
    mm = MCLLoss([4, 5], memory=dict(num_samples=10, neg_k=4))
    feats = [torch.randn(3, 4), torch.randn(3, 5)]
    with pytest.raises(ValueError, match="sample_idx.*pack 'sample_idx'.*metainfo"):
        mm(feats, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='memory.num_samples=10'):
        mm(feats, torch.tensor([0, 1, 2]), torch.tensor([0, 1, 10]))
    with pytest.raises(ValueError, match='labels must be >= 0'):
        mm(feats, torch.tensor([0, -1, 2]), torch.tensor([0, 1, 2]))


def test_memory_sizes_and_slot_identity_errors():
    """Memory settings that would contrast or update wrong slots silently are refused, naming
    the key; a sample_idx whose slot changes class (not one sample for the whole run) too."""
    with pytest.raises(ValueError, match=r'memory.neg_k must be >= 1 .*got 0'):
        MCLLoss([4, 4], memory=dict(num_samples=8, neg_k=0))
    with pytest.raises(ValueError, match=r'memory.pos_k must be >= 0, got -1'):
        MCLLoss([4, 4], memory=dict(num_samples=8, pos_k=-1))
    with pytest.raises(ValueError, match=r'memory.momentum must be in \[0, 1\) .*got 1'):
        MCLLoss([4, 4], memory=dict(num_samples=8, momentum=1))
    # pos_k beyond the slots of a class and a batch larger than the memory are fine: the
    # missing same-class slots are masked, repeated slots take their last occurrence
    m = MCLLoss([4, 5], embed_dim=6, memory=dict(num_samples=3, pos_k=4, neg_k=5))
    feats = [torch.randn(6, 4), torch.randn(6, 5)]
    sample_idx = torch.tensor([0, 1, 2, 2, 1, 0])
    out = m(feats, torch.tensor([0, 1, 1, 1, 1, 0]), sample_idx)
    assert all(torch.isfinite(v) for v in out.values())
    assert m.memory_labels.tolist() == [0, 1, 1]
    # one gathered batch giving slot 2 two classes: refused before any write
    state = memory_state(m)
    with pytest.raises(ValueError, match=r'sample_idx 2 comes with label (0|1), but its memory '
                       r'slot also holds class (0|1).*memory.num_samples=3'):
        m(feats, torch.tensor([0, 1, 1, 0, 1, 0]), sample_idx)
    # a slot seen before with another class
    with pytest.raises(ValueError, match=r'sample_idx 0 comes with label 2, but its memory '
                       r'slot also holds class 0'):
        m(feats, torch.tensor([2, 1, 1, 1, 1, 2]), sample_idx)
    for key, value in memory_state(m).items():
        assert torch.equal(value, state[key]), key
    # label-free batches and unseen slots (-1) take any class
    m(feats, None, sample_idx)
    fresh = MCLLoss([4, 5], embed_dim=6, memory=dict(num_samples=3, neg_k=5))
    fresh(feats, torch.tensor([2, 1, 1, 1, 1, 2]), sample_idx)
    assert fresh.memory_labels.tolist() == [2, 1, 1]


def test_registry_build():
    m = MODELS.build(dict(type='mcl_mm.MCLLoss', in_channels=[[8, 16], [4, 32]], embed_dim=32,
                          memory=dict(num_samples=20)))
    assert isinstance(m, MCLLoss) and len(m.heads) == 2 and len(m.heads[1]) == 2
    assert m.heads[1][1][0].in_features == 32 and m.heads[1][1][2].out_features == 32
    assert m.memory_0.shape == (20, 32) and m.memory_labels.tolist() == [-1] * 20
    assert isinstance(MODELS.build(dict(type='mcl_mm.MutualKDLoss')), MutualKDLoss)


# ---------------------------------------------------------------- distributed (2 CPU ranks)

DIST_IDX = [torch.tensor([0, 1, 2, 3]), torch.tensor([3, 5, 6])]  # uneven; slot 3 on both
DIST_CFG = dict(in_channels=[[4, 3], [5]], embed_dim=6, memory=dict(num_samples=10, neg_k=6),
                seed=7)


def dist_inputs(rank):
    g = torch.Generator().manual_seed(100 + rank)
    B = len(DIST_IDX[rank])
    feats = [[torch.randn(B, 4, generator=g), torch.randn(B, 3, generator=g)],
             torch.randn(B, 5, generator=g)]
    return feats, SLOT_LABELS[DIST_IDX[rank]], DIST_IDX[rank]


def dist_module():
    torch.manual_seed(0)  # same heads on every rank
    return MCLLoss(**DIST_CFG)


def _dist_worker(rank, world_size, init_file, out_dir):
    import torch.distributed as tdist
    tdist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                             world_size=world_size)
    torch.set_num_threads(1)
    m = dist_module()
    out = m(*dist_inputs(rank))
    torch.save(dict(memory=memory_state(m), generator=m.generator.get_state(),
                    icl=out['loss_icl'].detach()), f'{out_dir}/rank{rank}.pth')
    tdist.destroy_process_group()


def test_memory_distributed_ranks_agree(tmp_path):
    """Under 2 gloo ranks (uneven batches), both ranks update their memories with the gathered
    batch: identical memories holding both ranks' samples, generators in step."""
    import torch.multiprocessing as mp
    mp.spawn(_dist_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    results = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in range(2)]
    single = dist_module()
    before = memory_state(single)
    inputs = [dist_inputs(r) for r in range(2)]
    last = [torch.cat([embed(single, feats)[i, k] for feats, _, _ in inputs]).detach()
            for i, k in ((0, 1), (1, 0))]
    sample_idx = torch.cat(DIST_IDX)
    labels = torch.cat([labels for _, labels, _ in inputs])
    memories, memory_labels = naive_memory_update(
        [before['memory_0'], before['memory_1']], before['memory_labels'], last, sample_idx,
        labels, 0.5)
    single._step_generator()  # one draw per step, whatever the batch
    for res in results:
        assert torch.equal(res['generator'], single.generator.get_state())
        for i in range(2):
            torch.testing.assert_close(res['memory'][f'memory_{i}'], memories[i], rtol=0,
                                       atol=1e-6)
        assert torch.equal(res['memory']['memory_labels'], memory_labels)
    assert sorted(torch.nonzero(memory_labels >= 0)[:, 0].tolist()) == [0, 1, 2, 3, 5, 6]
    # slot 3 took rank 1's embedding (the last occurrence in rank order)
    expected = F.normalize(0.5 * before['memory_0'][3] + 0.5 * last[0][4], dim=0)
    torch.testing.assert_close(results[0]['memory']['memory_0'][3], expected, rtol=0, atol=1e-6)
    assert results[0]['icl'] != results[1]['icl']
