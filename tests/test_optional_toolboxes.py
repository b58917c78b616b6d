"""mcl_mm with MMSegmentation alone: MMDetection, MMPose and MMPretrain absent (blocked in a
subprocess), ``import mcl_mm`` works and CIRKD trains through tools/train.py; a component that
needs a missing toolbox says which."""
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

BLOCK = textwrap.dedent('''
    import importlib.abc, sys

    class Absent(importlib.abc.MetaPathFinder):
        """Packages that are not installed, as far as this process can tell."""
        names = ('mmdet', 'mmpose', 'mmpretrain')

        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in self.names:
                raise ModuleNotFoundError(f'No module named {name!r}', name=name)
            return None

    sys.meta_path.insert(0, Absent())
''')


def _run(code: str, timeout: int = 900) -> str:
    proc = subprocess.run([sys.executable, '-c', BLOCK + textwrap.dedent(code)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stdout


def test_import_without_mmdet_mmpose_mmpretrain_and_clear_errors():
    out = _run('''
        import mcl_mm, mcl_mm.models, mcl_mm.datasets, mcl_mm.engine.hooks, mcl_mm.evaluation
        from mmengine.registry import DATASETS, MODELS
        assert not {'mmdet', 'mmpose', 'mmpretrain'} & set(sys.modules)
        for registry, name, package in ((MODELS, 'mcl_mm.CIFARResNet', 'mmpretrain'),
                                        (DATASETS, 'mcl_mm.SyntheticCIFAR100', 'mmpretrain'),
                                        (DATASETS, 'mcl_mm.CocoPersonJigsawDataset', 'mmpose')):
            try:
                registry.build(dict(type=name))
            except ImportError as e:
                assert f'{name} needs {package}, which is not installed' in str(e), e
            else:
                raise AssertionError(name)
        print('ok')
        ''')
    assert out.strip().endswith('ok')


@pytest.mark.slow
def test_cirkd_trains_with_mmseg_alone(synthetic_data, tmp_path):
    data = synthetic_data('cityscapes')
    out = _run(f'''
        import runpy
        sys.argv = ['tools/train.py', 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py',
                    '--work-dir', {str(tmp_path)!r}, '--cfg-options',
                    'train_dataloader.dataset.data_root={data}',
                    'val_dataloader.dataset.data_root={data}',
                    'test_dataloader.dataset.data_root={data}',
                    'model.teacher_ckpt=None', 'model.random_teacher=True',
                    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                    'default_hooks.checkpoint.interval=2']
        runpy.run_path('tools/train.py', run_name='__main__')
        assert not {{'mmdet', 'mmpose', 'mmpretrain'}} & set(sys.modules)
        print('trained')
        ''')
    assert out.strip().endswith('trained')
    assert (tmp_path / 'iter_2.pth').exists()
