"""Every shipped config loads and downloads nothing at run time."""
import re
from pathlib import Path

import pytest
import torch
from conftest import REPO
from mmengine.config import Config

CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)
URL = re.compile(r'(open-mmlab|torchvision|mmcls|https?)://')


def test_there_are_configs():
    assert len(CONFIGS) >= 3


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(REPO / 'configs')))
def test_config_loads_and_names_no_download(path: Path):
    cfg = Config.fromfile(str(path))
    assert cfg.get('default_scope') in ('mmseg', 'mmdet', 'mmpose')
    from mcl_mm.models.builder import resolve_model_cfg
    model = cfg.model
    # the sub-models a composite model builds, resolved through their cfg_path
    subs = {f'model.{k}': model[k] for k in ('teacher', 'student') if k in model}
    subs.update({f'model.members[{i}]': m for i, m in enumerate(model.get('members', []))})
    texts = dict(model=str(model), load_from=str(cfg.get('load_from')))
    texts.update({key: str(resolve_model_cfg(sub, key)) for key, sub in subs.items()})
    for key, text in texts.items():
        assert not URL.search(text), f'{path.name}: {key} names a download: {URL.search(text)}'
    # a local checkpoint path in the model comes with a note on where the file comes from
    source = path.read_text()
    comments = '\n'.join(line for line in source.splitlines() if line.lstrip().startswith('#'))
    for ckpt in re.findall(r"^[^#]*'([^']+\.pth)'", source, flags=re.M):
        if not ckpt.startswith('work_dirs/'):
            assert 'download' in comments and Path(ckpt).name in comments, \
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
