"""Every shipped config loads; checkpoints are named by addresses MMEngine knows (downloaded
once into the torch hub cache, as the stock toolboxes do) or by local paths whose source a
comment gives; the synthetic configs download nothing."""
import re
from pathlib import Path

import pytest
import torch
from conftest import REPO
from mmengine.config import Config

from mcl_mm.engine.downloads import checkpoint_url

CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)
ADDRESS = re.compile(r"(?:open-mmlab|openmmlab|torchvision|mmcls|https?)://[^'\s,)]+")


DATASETS = ('cityscapes', 'voc12aug', 'camvid', 'coco', 'imagenet', 'cifar100',
            'synthetic-cityscapes', 'synthetic-coco', 'synthetic-imagenet', 'synthetic-cifar100',
            'coco-256x192', 'coco-person-256x192', 'coco-person-288x192')
WORDS = re.compile(r'^[a-z0-9]+(?:-[a-z0-9]+)*$')


def config_name_problems(name: str) -> list:
    """What breaks the naming scheme in ``name`` (a config file name): fields separated by
    ``_``, words inside a field by ``-``; ``{model}`` or ``{teacher}_to_{student}`` first (a
    model field joins algorithm and backbone: ``deeplabv3-r18``, ``faster-rcnn-r18x2`` for a
    cohort, ``resnet18`` where they are one word), then the variant and schedule fields, then
    one data set field."""
    fields = name[:-len('.py')].split('_')
    problems = [f'field {f!r} is not lowercase words joined by -' for f in fields
                if not WORDS.match(f)]
    models = [fields[0]] + ([fields[2]] if len(fields) > 2 and fields[1] == 'to' else [])
    problems += [f'model field {m!r} does not join algorithm and backbone with -'
                 for m in models if '-' not in m and not re.match(r'^resnet\d+(x\d+)?$', m)]
    rest = fields[3:] if len(fields) > 2 and fields[1] == 'to' else fields[1:]
    problems += [f'field {f!r}: a member count xN belongs to the model field ({fields[0]}xN)'
                 for f in rest if re.search(r'[a-z]x\d+(?:-|$)', f)]
    if fields[-1] not in DATASETS:
        problems.append(f'last field {fields[-1]!r} is not a data set of {DATASETS}')
    if re.search(r'(?<!hrnet)-w\d+', name):
        problems.append('-wNN is HRNet\'s width: write a ResNet\'s width as -half')
    return problems


def test_config_names_follow_one_scheme():
    assert config_name_problems('deeplabv3_r18_to_r18-w32_synthetic-cityscapes.py')
    assert config_name_problems('faster-rcnn_r18-fpnx2_1x_coco.py')
    assert not config_name_problems('hsjp-4x3-hrnet-w32_8xb64-210e_coco-person-256x192.py')
    bad = {p.name: config_name_problems(p.name) for p in CONFIGS}
    assert not {k: v for k, v in bad.items() if v}


@pytest.mark.parametrize('folder', ['baselines', 'cirkd', 'mcl', 'hsjp'])
def test_every_config_is_in_its_readme(folder):
    readme = (REPO / 'configs' / folder / 'README.md').read_text()
    # names written with shell braces, `a_{b,c}_d.py`, stand for each of their expansions
    while re.search(r'\{[^{}\s]*,[^{}\s]*\}', readme):
        readme = re.sub(r'(\S*?)\{([^{}\s]*,[^{}\s]*)\}(\S*)',
                        lambda m: ' '.join(m[1] + alt + m[3] for alt in m[2].split(',')),
                        readme)
    missing = [p.name for p in CONFIGS if p.parent.name == folder and p.name not in readme
               and p.stem not in readme]
    assert not missing


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(REPO / 'configs')))
def test_config_loads_and_names_only_known_checkpoints(path: Path):
    cfg = Config.fromfile(str(path))
    assert cfg.get('default_scope') in ('mmseg', 'mmdet', 'mmpose', 'mmpretrain')
    from mcl_mm.models.builder import resolve_model_cfg
    model = cfg.model
    # the sub-models a composite model builds, resolved through their cfg_path
    subs = {f'model.{k}': model[k] for k in ('teacher', 'student') if k in model}
    subs.update({f'model.members[{i}]': m for i, m in enumerate(model.get('members', []))})
    if 'cfg_path' in model:  # mcl_mm.StockModel: the model of another config
        subs['model (cfg_path)'] = {k: v for k, v in model.items() if k != 'type'}
    texts = dict(model=str(model), load_from=str(cfg.get('load_from')))
    texts.update({key: str(resolve_model_cfg(sub, key)) for key, sub in subs.items()})
    for key, text in texts.items():
        for address in ADDRESS.findall(text):
            assert 'synthetic' not in path.name, f'{path.name}: {key} downloads {address}'
            assert checkpoint_url(address), f'{path.name}: {key} names unknown {address}'
    # validation and test score alike (a `test_evaluator = val_evaluator` over a base shares
    # one dict whose _delete_ the first merge consumes: the test evaluator then merges)
    val, test = cfg.get('val_evaluator'), cfg.get('test_evaluator')
    if val is not None and test is not None:
        assert val.get('type') == test.get('type') and val.keys() == test.keys(), (val, test)
        if isinstance(val.get('metric'), dict):  # a wrapper's (MemberMetric) inner metric
            assert val.metric.get('type') == test.metric.get('type'), (val, test)
    # tools/train.py --auto-scale-lr: every config says for which total batch its lr is
    scale = cfg.get('auto_scale_lr')
    assert scale is not None and int(scale.get('base_batch_size', 0)) >= \
        cfg.train_dataloader.batch_size, f'{path.name}: auto_scale_lr={scale!r}'
    # a local checkpoint path in the model comes with a note on where the file comes from
    source = path.read_text()
    comments = '\n'.join(line for line in source.splitlines() if line.lstrip().startswith('#'))
    for ckpt in re.findall(r"^[^#]*'([^':]+\.pth)'", source, flags=re.M):
        if not ckpt.startswith('work_dirs/'):
            assert Path(ckpt).name in comments, \
                f'{path.name}: no comment says where {ckpt} comes from'


# by the naming convention, {teacher}_to_{student}_... is a distiller
DISTILLERS = [p for p in CONFIGS if '_to_' in p.name]


@pytest.mark.slow
@pytest.mark.parametrize('path', DISTILLERS, ids=lambda p: p.name)
def test_distiller_config_builds_and_runs_a_step(path: Path):
    """Recorders, channel counts and losses of every distiller config fit its models (random
    teacher, no ImageNet weights, a 2 x 64 x 64 batch)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'bench', REPO / 'tools' / 'benchmark_cirkd_iteration.py')
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = bench.build(str(path))
    inputs, samples = bench.batch(model, 2, 64, 64)
    losses = model(inputs, samples, mode='loss')
    cfg = Config.fromfile(str(path))
    expected = {'loss_kd': 'loss_kd', 'loss_cirkd_batch': 'loss_cirkd_batch',
                'loss_cirkd_mem': 'loss_cirkd_mem_pixel'}  # config key -> a logged loss
    for key, logged in expected.items():
        if key in cfg.model.distill_losses:
            assert torch.isfinite(losses[logged]), logged
    assert 'loss_kd' in losses and all(torch.isfinite(v) for k, v in losses.items()
                                       if k.startswith('loss'))


# by the naming convention, a field {member}x{N} names a cohort
COHORTS = [p for p in CONFIGS if re.search(r'x\d+[_-]', p.name) and 'mcl' in p.parts]


def _cohort_batch(model, scope):
    """A 2-image batch of the members' task: labels for classifiers and segmentors, boxes for
    detectors."""
    from mmengine.structures import PixelData
    member = model.members[0]
    if scope == 'mmdet':
        from mmdet.testing import demo_mm_inputs
        packed = demo_mm_inputs(2, [[3, 64, 64]] * 2, num_classes=5)
        data = model.data_preprocessor(packed, True)
        return data['inputs'], data['data_samples']
    inputs = torch.randn(2, 3, 64, 64)
    samples = []
    for i in range(2):
        if scope == 'mmseg' and hasattr(member, 'decode_head'):
            from mmseg.structures import SegDataSample
            s = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
            s.gt_sem_seg = PixelData(data=torch.randint(0, member.decode_head.num_classes,
                                                        (1, 64, 64)))
        else:
            assert scope == 'mmpretrain', scope
            from mmpretrain.structures import DataSample
            s = DataSample(metainfo=dict(sample_idx=i)).set_gt_label(i % 2)
        samples.append(s)
    return inputs, samples


@pytest.mark.slow
@pytest.mark.parametrize('path', COHORTS, ids=lambda p: p.name)
def test_cohort_config_builds_and_runs_a_step(path: Path):
    """Recorders, channel counts and losses of every cohort config fit its members (no
    ImageNet weights, memories shrunk to 64 slots, a 2 x 64 x 64 batch)."""
    from mmengine.registry import MODELS, DefaultScope

    import mcl_mm  # noqa: F401
    cfg = Config.fromfile(str(path))
    memory = cfg.model.mcl_loss.get('memory')
    if memory:
        memory.update(num_samples=64, neg_k=16)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model).train()
        losses = model(*_cohort_batch(model, cfg.default_scope), mode='loss')
    assert len(model.members) >= 2
    for key in ('loss_vcl', 'loss_soft_vcl', 'loss_icl', 'loss_soft_icl'):
        assert torch.isfinite(losses[key]), key
    assert any(k.startswith('m1.') for k in losses)
