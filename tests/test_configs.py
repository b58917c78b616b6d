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


def test_there_are_configs():
    assert len(CONFIGS) >= 3


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
    for key in ('loss_kd', 'loss_cirkd_batch', 'loss_cirkd_mem_pixel', 'loss_cirkd_mem_region'):
        assert torch.isfinite(losses[key]), key


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
