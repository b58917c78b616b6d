"""Recorded tensors of models that differ in stride, padding and head type: alignment to one
grid, recorders (index, transform, chained, deep-copied) and each model's own preprocessing."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS, DefaultScope
from test_seg_distiller import KD, RECORDERS, _batch, _segmentor

from mcl_mm.models.align import align_tensors, check_align, crop_to_extent, resize, target_grid
from mcl_mm.models.losses import PixelKDLoss
from mcl_mm.models.recorder import ModuleRecorder, query_seg_logits


def test_resize_is_identity_area_or_bilinear():
    x = torch.randn(2, 3, 8, 12)
    assert resize(x, (8, 12)) is x
    # coarser in both directions: the average of the covered cells
    assert torch.allclose(resize(x, (4, 6)), F.avg_pool2d(x, 2))
    assert torch.allclose(resize(x, (2, 3)), F.avg_pool2d(x, 4))
    # finer: bilinear, align_corners=False, as mmseg resizes logits
    assert torch.allclose(resize(x, (16, 24)),
                          F.interpolate(x, (16, 24), mode='bilinear', align_corners=False))


def test_crop_keeps_the_cells_of_the_common_extent():
    x = torch.arange(16.).view(1, 1, 4, 4)
    # computed on a 64x64 padded input; the other model padded to 32x64: the top half
    assert torch.equal(crop_to_extent(x, (64, 64), (32, 64)), x[..., :2, :])
    assert crop_to_extent(x, (64, 64), (64, 64)) is x


def test_target_grid():
    grids = [('student', (16, 16)), ('teacher', (8, 8))]
    assert target_grid('smaller', grids, (64, 64)) == (8, 8)
    assert target_grid('larger', grids, (64, 64)) == (16, 16)
    assert target_grid('student', grids, (64, 64)) == (16, 16)
    assert target_grid('teacher', grids, (64, 64)) == (8, 8)
    assert target_grid(16, grids, (64, 48)) == (4, 3)
    assert target_grid(5, grids, (64, 48)) == (13, 10)  # ceil
    with pytest.raises(ValueError, match=r"model.align must be one of \['smaller', 'larger', "
                                         r"'student', 'teacher'\] or an int output stride"):
        check_align('coarser', 'model.align', ('student', 'teacher'))
    with pytest.raises(ValueError, match='model.align'):
        check_align(0, 'model.align')


def test_equal_grids_pass_through_untouched():
    a, b = torch.randn(2, 4, 8, 8), torch.randn(2, 6, 8, 8)
    out = align_tensors([a, b, None], ['student', 'teacher', 'labels'],
                        dict(student=(64, 64), teacher=(64, 64)), 'smaller')
    assert out[0] is a and out[1] is b and out[2] is None


def test_padding_and_stride_are_aligned_in_input_pixels():
    # student at 1/4 of a 64x64 padded input, teacher at 1/8 of a 64x128 padded input: the
    # common extent is 64x64, i.e. the left half of the teacher's map
    s, t = torch.randn(1, 2, 16, 16), torch.randn(1, 2, 8, 16)
    out = align_tensors([s, t], ['student', 'teacher'],
                        dict(student=(64, 64), teacher=(64, 128)), 'smaller')
    assert torch.allclose(out[0], F.avg_pool2d(s, 2))
    assert torch.equal(out[1], t[..., :8])


def _distiller(student, teacher, **kw):
    cfg = dict(type='mcl_mm.SegDistiller', teacher=teacher, student=student,
               random_teacher=True, recorders=RECORDERS, distill_losses=KD)
    cfg.update(kw)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg)


def _strided(out_stride, channels=16):
    """_segmentor at output stride 4 or 8 (dilated ResNet stages)."""
    cfg = _segmentor(channels)
    strides = dict([(4, (1, 1, 1, 1)), (8, (1, 2, 1, 1))])[out_stride]
    dilations = dict([(4, (1, 2, 4, 8)), (8, (1, 1, 2, 4))])[out_stride]
    cfg['backbone'].update(strides=strides, dilations=dilations)
    return cfg


@pytest.mark.parametrize('align', ['smaller', 'teacher', 'student', 'larger', 8])
def test_distiller_kd_between_strides_is_the_kd_of_the_aligned_logits(align):
    """A 1/4 student and a 1/8 teacher: the logged KD loss is PixelKDLoss of the logits
    brought to the chosen grid (average pooling down, bilinear up)."""
    model = _distiller(_strided(4), _strided(8, channels=32), align=align).train()
    seen = {}  # what the recorders see, taken by plain hooks in the same step
    model.student.decode_head.conv_seg.register_forward_hook(
        lambda m, i, o: seen.setdefault('s', o))
    model.teacher.decode_head.conv_seg.register_forward_hook(
        lambda m, i, o: seen.setdefault('t', o))
    losses = model(**_batch(model), mode='loss')
    s, t = seen['s'], seen['t']
    assert s.shape[-2:] == (8, 8) and t.shape[-2:] == (4, 4)  # 32x32 inputs
    size = dict(smaller=(4, 4), teacher=(4, 4), student=(8, 8), larger=(8, 8)).get(align,
                                                                                   (4, 4))
    expected = PixelKDLoss()(resize(s, size), resize(t, size))
    assert torch.allclose(losses['loss_kd'], expected, atol=1e-6)


def test_teacher_sees_its_own_preprocessing():
    """A teacher trained on another normalisation gets the batch through its own
    preprocessor; the student through its own."""
    teacher = _segmentor(32)
    teacher['data_preprocessor'] = dict(teacher['data_preprocessor'], mean=[10, 20, 30],
                                        std=[2, 3, 4], bgr_to_rgb=True)
    model = _distiller(_segmentor(16), teacher).train()
    seen = {}
    model.student.backbone.register_forward_pre_hook(lambda m, a: seen.setdefault('s', a[0]))
    model.teacher.backbone.register_forward_pre_hook(lambda m, a: seen.setdefault('t', a[0]))
    raw = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 2,
               data_samples=_batch(model)['data_samples'])
    expected_t = model.teacher.data_preprocessor(copy.deepcopy(raw), True)['inputs']
    expected_s = model.student.data_preprocessor(copy.deepcopy(raw), True)['inputs']
    model(**model.data_preprocessor(raw, True), mode='loss')
    assert torch.equal(seen['s'], expected_s) and torch.equal(seen['t'], expected_t)
    assert not torch.allclose(expected_s, expected_t)
    # one shared preprocessor must be both models' own
    with pytest.raises(ValueError, match=r'model.data_preprocessor differs from the data '
                                         r'preprocessor of model.teacher \(keys '):
        _distiller(_segmentor(16), teacher, data_preprocessor=_segmentor()['data_preprocessor'])


def test_recorders_index_chain_and_deepcopy():
    linear = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    out = ModuleRecorder(linear, dict(module='0'), 'k.out')
    inp = ModuleRecorder(linear, dict(module='0', io='input'), 'k.in')
    x = torch.randn(5, 3)
    y = linear(x)
    assert torch.equal(inp.get(), x) and out.get().shape == (5, 4)
    assert out.channels() == 4 and inp.channels() == 3
    # a deep copy (EMA) records into its own recorder copy, not into the original
    out.clear()
    twin = copy.deepcopy(linear)
    assert torch.equal(twin(x), y)
    with pytest.raises(RuntimeError, match=r"k.out: module '0' saw no forward pass"):
        out.get()
    # a module that returns a tuple needs an index; a tensor is kept as it is
    pair = ModuleRecorder(torch.nn.Sequential(_Pair()), dict(module='0'), 'k.pair')
    pair.module(x)
    with pytest.raises(ValueError, match='set k.pair.index'):
        pair.get()
    pair = ModuleRecorder(torch.nn.Sequential(_Pair()), dict(module='0', index=-1), 'k.pair')
    pair.module(x)
    assert torch.equal(pair.get(), x * 2)
    # nested outputs (a distilled DeiT's last stage gives (cls_token, dist_token)): a list
    nested = ModuleRecorder(torch.nn.Sequential(_Nested()), dict(module='0', index=-1), 'k.n')
    nested.module(x)
    with pytest.raises(ValueError, match=r'gives a tuple of 2 after index \[-1\]; set '
                                         r'k.n.index .*a list of indices'):
        nested.get()
    nested = ModuleRecorder(torch.nn.Sequential(_Nested()), dict(module='0', index=[-1, 0]),
                            'k.n')
    nested.module(x)
    assert torch.equal(nested.get(), x * 3)
    with pytest.raises(ValueError, match=r"k.i.index must be an int or a list of ints"):
        ModuleRecorder(linear, dict(module='0', index='-1'), 'k.i')
    with pytest.raises(ValueError, match=r'k.bad has unknown keys \[\'moduel\'\]'):
        ModuleRecorder(linear, dict(module='0', moduel='1'), 'k.bad')


class _Nested(torch.nn.Module):
    def forward(self, x):
        return (x, (x * 3, x * 4))


class _Pair(torch.nn.Module):
    def forward(self, x):
        return x, x * 2


def test_query_seg_logits_are_the_log_of_mmseg_predict_scores():
    """Mask2Former's and MaskFormer's per-pixel class scores, as their ``predict`` computes
    them (at mask resolution): ``softmax`` of the log-scores is mmseg's class distribution."""
    from mmseg.models.decode_heads import Mask2FormerHead, MaskFormerHead
    g = torch.Generator().manual_seed(0)
    cls = [torch.randn(2, 10, 5, generator=g) for _ in range(3)]  # 4 classes + no-object
    masks = [torch.randn(2, 10, 6, 7, generator=g) for _ in range(3)]
    ours = query_seg_logits((cls, masks))
    assert ours.shape == (2, 4, 6, 7)

    class FakeHead:
        def __call__(self, x, samples):
            return cls, masks

    metas = [dict(img_shape=(6, 7), pad_shape=(6, 7))] * 2
    for head in (Mask2FormerHead, MaskFormerHead):
        scores = head.predict(FakeHead(), None, metas, None)
        assert torch.allclose(ours.exp(), scores.clamp_min(1e-6), atol=1e-6), head
    # stacked layers (MaskFormer's forward) give the same
    assert torch.allclose(query_seg_logits((torch.stack(cls), torch.stack(masks))), ours)
    with pytest.raises(ValueError, match="transform='query_seg_logits' needs a head"):
        query_seg_logits(torch.randn(2, 4, 6, 7))
