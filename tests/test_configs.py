"""Every shipped config loads and downloads nothing at run time."""
import re
from pathlib import Path

import pytest
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
    for key in ('model', 'load_from'):
        text = str(cfg.get(key))
        assert not URL.search(text), f'{path.name}: {key} names a download: {URL.search(text)}'
