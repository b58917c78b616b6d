"""mcl_mm.SegDistiller: frozen teacher, recorders, distillation losses, export."""
import json
import re

import pytest
import torch
from conftest import REPO, run_tool
from mmengine.registry import MODELS, DefaultScope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

NORM = dict(type='BN', requires_grad=True)


def _segmentor(channels=16, num_classes=4):
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[255, 255, 255],
                               size=(32, 32), pad_val=0, seg_pad_val=255),
        backbone=dict(type='ResNetV1c', depth=18, base_channels=16, stem_channels=16,
                      norm_cfg=NORM, init_cfg=None),
        decode_head=dict(type='FCNHead', in_channels=128, channels=channels, num_convs=1,
                         num_classes=num_classes, norm_cfg=NORM,
                         loss_decode=dict(type='CrossEntropyLoss')),
        train_cfg=dict(), test_cfg=dict(mode='whole'))


RECORDERS = dict(
    s_feat=dict(source='student', module='decode_head.conv_seg', io='input'),
    s_logits=dict(source='student', module='decode_head.conv_seg', io='output'),
    t_feat=dict(source='teacher', module='decode_head.conv_seg', io='input'),
    t_logits=dict(source='teacher', module='decode_head.conv_seg', io='output'))
KD = dict(loss_kd=dict(type='mcl_mm.PixelKDLoss', inputs=dict(preds_S='s_logits',
                                                              preds_T='t_logits')))


def _build(**kw):
    cfg = dict(type='mcl_mm.SegDistiller', teacher=_segmentor(32), student=_segmentor(16),
               random_teacher=True, recorders=RECORDERS, distill_losses=KD)
    cfg.update(kw)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg)


def _batch(model, labels=None, n=2):
    samples = []
    for k in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32),
                                        pad_shape=(32, 32)))
        lab = torch.randint(0, 4, (1, 32, 32)) if labels is None else labels[k:k + 1]
        s.gt_sem_seg = PixelData(data=lab)
        samples.append(s)
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * n,
                data_samples=samples)
    return model.data_preprocessor(data, True)


def test_teacher_is_frozen_and_outside_the_module_tree():
    model = _build()
    model.train()
    assert not model.teacher.training and model.student.training
    assert all(not p.requires_grad for p in model.teacher.parameters())
    teacher_params = {id(p) for p in model.teacher.parameters()}
    assert not teacher_params & {id(p) for p in model.parameters()}
    assert not [k for k in model.state_dict() if k.startswith('teacher.')]
    assert any(k.startswith('student.') for k in model.state_dict())
    model.to(torch.float64)  # moved and cast with the distiller
    assert next(model.teacher.parameters()).dtype == torch.float64


def test_losses_are_logged_and_grads_reach_only_the_student():
    torch.manual_seed(0)
    model = _build()
    losses = model(**_batch(model), mode='loss')
    assert {'decode.loss_ce', 'decode.acc_seg', 'loss_kd'} <= set(losses)
    assert losses['loss_kd'] > 0
    losses['loss_kd'].backward()
    assert model.student.decode_head.conv_seg.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
    assert all(rec.data is None for rec in model.recorders.values())  # nothing kept alive


def test_predictions_come_from_the_student():
    model = _build().eval()
    batch = _batch(model)
    out = model(batch['inputs'], batch['data_samples'], mode='tensor')
    assert torch.equal(out, model.student(batch['inputs'], batch['data_samples'], mode='tensor'))
    preds = model.test_step(dict(inputs=[torch.zeros(3, 32, 32, dtype=torch.uint8)],
                                 data_samples=[_batch(model, n=1)['data_samples'][0]]))
    assert preds[0].pred_sem_seg.data.shape == (1, 32, 32)
    assert model.decode_head is model.student.decode_head and model.out_channels == 4


def test_weight_scale_ramps_and_stops_distillation():
    from mcl_mm.engine.hooks import DistillLossWeightHook
    hook = DistillLossWeightHook(warmup_iters=4, stop_iter=10)
    assert [hook.scale_at(i) for i in (0, 1, 3, 9, 10, 20)] == [0.25, 0.5, 1., 1., 0., 0.]
    model = _build()
    calls = []
    model.teacher.backbone.register_forward_hook(lambda *a: calls.append(1))
    batch = _batch(model)
    full = model(**batch, mode='loss')['loss_kd']
    model.distill_weight_scale = 0.5
    assert torch.allclose(model(**batch, mode='loss')['loss_kd'], full * 0.5)
    model.distill_weight_scale = 0.
    assert float(model(**batch, mode='loss')['loss_kd']) == 0.  # logged as 0, not stale
    assert len(calls) == 2  # no teacher pass once distillation is off


def test_teacher_checkpoint_errors_name_file_and_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match='model.teacher_ckpt'):
        _build(random_teacher=False, teacher_ckpt=str(tmp_path / 'nope.pth'))
    with pytest.raises(ValueError, match='model.teacher_ckpt is not set'):
        _build(random_teacher=False)
    good = _build()
    path = tmp_path / 't.pth'
    torch.save(dict(state_dict=good.teacher.state_dict()), path)
    loaded = _build(random_teacher=False, teacher_ckpt=str(path))
    for a, b in zip(loaded.teacher.state_dict().values(), good.teacher.state_dict().values()):
        assert torch.equal(a, b)
    state = dict(good.teacher.state_dict())
    state.pop('decode_head.conv_seg.bias')
    state['extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=state), path)
    pattern = r'(?s)t\.pth.*decode_head\.conv_seg\.bias.*extra\.weight'
    with pytest.raises(ValueError, match=pattern):
        _build(random_teacher=False, teacher_ckpt=str(path))
    # unreadable: truncated, or not a checkpoint at all
    torch.save(dict(state_dict=good.teacher.state_dict()), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"model.teacher_ckpt '.*t\.pth' cannot be read"):
        _build(random_teacher=False, teacher_ckpt=str(path))
    torch.save([1, 2], path)
    with pytest.raises(ValueError, match='holds a list, expected a state dict'):
        _build(random_teacher=False, teacher_ckpt=str(path))


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r"model.recorders.s_feat.module: no module named "
                                         r"'decode_head.conv_sg'.*decode_head.conv_seg"):
        _build(recorders=dict(RECORDERS, s_feat=dict(source='student',
                                                      module='decode_head.conv_sg')))
    with pytest.raises(ValueError, match='model.teacher predicts 5 classes but model.student 4'):
        _build(teacher=_segmentor(32, num_classes=5))
    with pytest.raises(ValueError, match=r"model.distill_losses.loss_kd.inputs names \['x'\]"):
        _build(distill_losses=dict(loss_kd=dict(KD['loss_kd'], inputs=dict(preds_S='x',
                                                                          preds_T='t_logits'))))


def test_extract_student(tmp_path):
    from mcl_mm.models.export import extract_submodel
    model = _build()
    ckpt = dict(meta=dict(dataset_meta=dict(classes=('a',)), cfg='x'),
                state_dict=model.state_dict(), optimizer={})
    out = extract_submodel(ckpt, 'student.')
    assert set(out['state_dict']) == set(model.student.state_dict())
    assert out['meta']['dataset_meta'] == dict(classes=('a',)) and 'optimizer' not in out
    with pytest.raises(KeyError, match="no weights under 'teacher.'"):
        extract_submodel(ckpt, 'teacher.')


CIRKD_CFG = 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'
SHORT = ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
         'default_hooks.checkpoint.interval=4', 'train_dataloader.batch_size=2',
         'default_hooks.logger.interval=1']


@pytest.fixture(scope='module')
def synthetic_teacher(synthetic_data, tmp_path_factory):
    """(data roots cfg-options, teacher checkpoint): the demo's teacher trained 4 iterations."""
    data = synthetic_data('cityscapes')
    roots = [f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')]
    work = tmp_path_factory.mktemp('teacher')
    run_tool('tools/train.py', 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py',
             '--work-dir', str(work), '--cfg-options', *roots, *SHORT)
    return roots, work / 'iter_4.pth'


@pytest.mark.slow
def test_cirkd_train_test_export_on_synthetic_cityscapes(synthetic_teacher, tmp_path):
    roots, teacher = synthetic_teacher
    work = tmp_path / 'cirkd'
    log = run_tool('tools/train.py', CIRKD_CFG, '--work-dir', str(work), '--cfg-options', *roots,
                   *SHORT, f'model.teacher_ckpt={teacher}')
    for name in ('loss_kd', 'loss_cirkd_batch', 'loss_cirkd_mem_pixel', 'loss_cirkd_mem_region',
                 'decode.loss_ce'):
        assert re.search(rf'{name}: \d', log), name
    ckpt = work / 'iter_4.pth'
    state = torch.load(ckpt)['state_dict']
    assert not [k for k in state if k.startswith('teacher.')]
    assert any('pixel_queue' in k for k in state)
    test_opts = ['--cfg-options', roots[2], f'model.teacher_ckpt={teacher}']
    log = run_tool('tools/test.py', CIRKD_CFG, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                   *test_opts)
    miou = re.findall(r'mIoU: (\d+\.\d+)', log)[-1]
    run_tool('tools/model_converters/distiller_to_student.py', str(ckpt),
             str(tmp_path / 'student.pth'))
    log = run_tool('tools/test.py', 'configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py',
                   str(tmp_path / 'student.pth'), '--work-dir', str(tmp_path / 'test_student'),
                   '--cfg-options', roots[2])
    assert re.findall(r'mIoU: (\d+\.\d+)', log)[-1] == miou


@pytest.mark.slow
def test_cirkd_two_gloo_processes_with_weight_hook(synthetic_teacher, tmp_path):
    """dist_train.sh runs the distiller on two CPU processes; the hook stops distillation."""
    roots, teacher = synthetic_teacher
    cfg = tmp_path / 'cirkd_hook.py'
    cfg.write_text(f"_base_ = ['{REPO / CIRKD_CFG}']\n"
                   "custom_hooks = [dict(type='mcl_mm.DistillLossWeightHook', stop_iter=2)]\n")
    work = tmp_path / 'dist'
    log = run_tool('tools/dist_train.sh', str(cfg), '2', '--work-dir', str(work),
                   '--cfg-options', *roots, *SHORT, f'model.teacher_ckpt={teacher}',
                   'log_processor.window_size=1', env=dict(PORT='29541'))
    assert 'rank 1 of 2' in log and (work / 'iter_4.pth').exists()
    scalars = [json.loads(line) for f in work.glob('*/vis_data/scalars.json')
               for line in f.read_text().splitlines()]
    train = {s['iter']: s for s in scalars if 'loss_kd' in s}
    assert train[1]['distill_weight_scale'] == 1 and train[1]['loss_kd'] > 0
    assert train[3]['distill_weight_scale'] == 0 and train[3]['loss_kd'] == 0
    assert train[4]['loss_cirkd_mem_pixel'] == 0 and train[4]['loss_cirkd_batch'] == 0


@pytest.mark.slow
def test_iteration_benchmark_runs():
    out = run_tool('tools/benchmark_cirkd_iteration.py', CIRKD_CFG, '--repeats', '1',
                   '--size', '32', '64', '--channels-last')
    for name in ('teacher forward', 'student forward+backward', 'distillation losses',
                 'whole iteration', 'student-alone step'):
        assert re.search(rf'{re.escape(name)}\s+\d+\.\d+ s', out), name
    assert 'teacher float32, channels-last' in out
    ratio = float(re.search(r'iteration / student alone\s+(\d+\.\d+)x', out)[1])
    assert ratio > 1  # the teacher and the losses come on top of the student's own step


def _train_scalars(work):
    rows = [json.loads(line) for f in sorted(work.glob('*/vis_data/scalars.json'))
            for line in f.read_text().splitlines()]
    return {r['iter']: {k: v for k, v in r.items() if k.startswith('loss') or '.loss' in k}
            for r in rows if 'loss' in r}


@pytest.mark.slow
def test_cirkd_resume_is_exact(synthetic_teacher, tmp_path):
    """4 iterations in one go == 2 iterations, stop, --resume for 2 more: same student weights,
    memory queues (and their generator), and logged losses. Dropout (torch's generator), the
    augmentations (numpy's) and the queue sampling (the loss's own generator) all resume."""
    roots, teacher = synthetic_teacher
    opts = [*roots, *SHORT, f'model.teacher_ckpt={teacher}', 'default_hooks.checkpoint.interval=2',
            'randomness.deterministic=True', 'log_processor.window_size=1']
    whole, split = tmp_path / 'whole', tmp_path / 'split'
    run_tool('tools/train.py', CIRKD_CFG, '--work-dir', str(whole), '--cfg-options', *opts)
    run_tool('tools/train.py', CIRKD_CFG, '--work-dir', str(split), '--cfg-options', *opts,
             'train_cfg.max_iters=2')
    log = run_tool('tools/train.py', CIRKD_CFG, '--work-dir', str(split), '--resume',
                   '--cfg-options', *opts)
    assert 'Advance dataloader 2 steps' in log
    a = torch.load(whole / 'iter_4.pth')
    b = torch.load(split / 'iter_4.pth')
    assert a['state_dict'].keys() == b['state_dict'].keys()
    queues = [k for k in a['state_dict'] if 'queue' in k]
    assert queues and any(k.endswith('_extra_state') for k in a['state_dict'])
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    assert not torch.equal(a['state_dict'][queues[0]],
                           torch.load(split / 'iter_2.pth')['state_dict'][queues[0]])
    losses_a, losses_b = _train_scalars(whole), _train_scalars(split)
    assert losses_a[3] == losses_b[3] and losses_a[4] == losses_b[4]
    assert losses_a[3]['loss_cirkd_mem_pixel'] > 0


def test_teacher_precision_hands_fp32_to_the_losses():
    """teacher_precision: the teacher runs under bfloat16 autocast in channels-last format;
    what the losses receive from it is float32, and its logits stay close to float32's."""
    seen = {}
    model = _build(teacher_precision=dict(dtype='bfloat16', channels_last=True)).train()
    assert model.teacher.backbone.stem[0].weight.is_contiguous(
        memory_format=torch.channels_last)
    kd = model.distill_losses['loss_kd']
    original = kd.forward

    def spy(preds_S, preds_T):
        seen['T'] = preds_T
        return original(preds_S, preds_T)

    kd.forward = spy
    batch = _batch(model)
    losses = model(**batch, mode='loss')
    assert seen['T'].dtype == torch.float32 and torch.isfinite(losses['loss_kd'])
    reference = _build()  # the same teacher weights in float32, contiguous
    reference.teacher.load_state_dict(model.teacher.state_dict())
    with torch.no_grad():
        metas = [s.metainfo for s in batch['data_samples']]
        full = reference.teacher.encode_decode(batch['inputs'], metas)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            half = model.teacher.encode_decode(
                batch['inputs'].contiguous(memory_format=torch.channels_last), metas)
    assert (half.float() - full).abs().max() < 0.05 * full.abs().max()
    with pytest.raises(ValueError, match=r"model.teacher_precision.dtype must be None or one "
                                         r"of \['bfloat16', 'float16'\], got 'int8'"):
        _build(teacher_precision=dict(dtype='int8'))
    with pytest.raises(ValueError, match='model.teacher_precision has unknown keys'):
        _build(teacher_precision=dict(precision='bf16'))
    # a stock op that views its input as contiguous NCHW (PSANet's PSAMask, DMNet's dynamic
    # convolution) fails in channels-last: the error names the key to change
    head = model.teacher.decode_head
    head_forward = head.forward
    head.forward = lambda x: head_forward([f.view(len(f), -1).view(f.shape) for f in x])
    with pytest.raises(RuntimeError, match=r'model.teacher_precision.channels_last=True: the '
                                           r'teacher fails in the channels-last memory format '
                                           r'\(view size .* set model.teacher_precision.'
                                           r'channels_last=False'):
        model(**batch, mode='loss')


@pytest.mark.slow
def test_teacher_precision_analysis_compares_with_float32(synthetic_data, tmp_path):
    """tools/analysis/teacher_precision.py on a teacher checkpoint saved the stock way: the
    agreement of bfloat16 + channels-last predictions with float32 and the logit differences
    (nonzero: the reduced pass really ran in bfloat16)."""
    from mmengine.config import Config
    teacher_cfg = 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py'
    cfg = Config.fromfile(str(REPO / teacher_cfg))
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    data = synthetic_data('cityscapes')
    out = run_tool('tools/analysis/teacher_precision.py', teacher_cfg, str(ckpt), '--dtype',
                   'bfloat16', '--channels-last', '--num-images', '1', '--data-root', str(data))
    share = float(re.search(r'agrees on\s+(\d+\.\d+) %', out)[1])
    assert 0 < share <= 100
    diff = float(re.search(r'max (\S+), mean', out)[1])
    assert diff > 0, out
    assert 'float32 vs bfloat16, channels-last' in out
    # the relation targets of the recorded feature moved too, by a finite amount
    relation = float(re.search(r'input of decode_head.conv_seg, tau 0.1\): .* mean (\S+)',
                               out)[1])
    assert 0 < relation < float('inf'), out


@pytest.mark.slow
def test_teacher_precision_analysis_of_a_query_head_from_the_model_zoo(synthetic_data, tmp_path):
    """A stock mmseg MaskFormer (no decode_head.conv_seg): the logit comparison runs and the
    relation rows are skipped with a note, or measured on the feature --relation-input names."""
    import os

    import mmseg
    from mmengine.config import Config
    zoo = os.path.join(os.path.dirname(mmseg.__file__), '.mim', 'configs', 'maskformer',
                       'maskformer_r50-d32_8xb2-160k_ade20k-512x512.py')
    cfg = Config.fromfile(str(REPO / 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py'))
    model = Config.fromfile(zoo).model
    model.decode_head.num_classes = 19
    model.decode_head.loss_cls.class_weight = [1.0] * 19 + [0.1]
    model.backbone.init_cfg = None  # no download: random weights, saved below
    model.data_preprocessor = cfg.model.data_preprocessor
    cfg.model = model
    config = tmp_path / 'maskformer_synthetic.py'
    cfg.dump(str(config))
    with DefaultScope.overwrite_default_scope('mmseg'):
        segmentor = MODELS.build(cfg.model)
    ckpt = tmp_path / 'maskformer.pth'
    torch.save(dict(state_dict=segmentor.state_dict(), meta=dict()), ckpt)
    args = [str(config), str(ckpt), '--dtype', 'bfloat16', '--num-images', '1', '--data-root',
            str(synthetic_data('cityscapes'))]
    out = run_tool('tools/analysis/teacher_precision.py', *args)
    assert re.search(r'agrees on\s+\d+\.\d+ %', out), out
    assert 'relation rows: skipped (the model has no decode_head.conv_seg' in out
    out = run_tool('tools/analysis/teacher_precision.py', *args, '--relation-input',
                   'decode_head.pixel_decoder.mask_feature')
    relation = float(re.search(r'input of decode_head.pixel_decoder.mask_feature, tau 0.1\): '
                               r'.* mean (\S+)', out)[1])
    assert 0 < relation < float('inf'), out


def test_relation_kl_of_the_precision_analysis():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'teacher_precision', REPO / 'tools/analysis/teacher_precision.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(1, 6, 4, 5, generator=g, dtype=torch.float64)
    out = ref + 0.01 * torch.randn(ref.shape, generator=g, dtype=torch.float64)
    assert tool.relation_kl(ref, ref, 0.1, 7, torch.Generator().manual_seed(1)) == 0
    got = tool.relation_kl(ref, out, 0.1, 20, torch.Generator().manual_seed(1))
    # all 20 pixels as rows: the full relation maps, materialised
    a, b = (torch.nn.functional.normalize(x[0].flatten(1).t(), dim=1) for x in (ref, out))
    p, q = ((x @ x.t() / 0.1).softmax(1) for x in (a, b))
    assert got == pytest.approx(float((p * (p.log() - q.log())).sum(1).mean()), rel=1e-9)
    assert got > 0
