"""The install step is idempotent and the import-time mmcv check explains what is wrong."""
import subprocess
import sys

import pytest
from conftest import REPO, run_tool


def test_install_script_skips_what_is_installed(tmp_path):
    """The installer, run with the interpreter of a virtual environment of this test's own
    (which sees the installed stack through --system-site-packages), finds every step done.
    Whatever it might install would go into that environment, never into another one."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--system-site-packages', '--without-pip',
                    str(venv)], check=True)
    python = venv / 'bin' / 'python'
    log = run_tool('tools/install.sh', timeout=600, env=dict(PYTHON=str(python)))
    said = [line for line in log.splitlines() if line.startswith('[install]')]
    assert f'[install] python: {python}' in said[0], said[0]
    assert not [line for line in said if ' installing ' in line], said
    for name in ('torch', 'mmengine 0.10.7', 'mmcv 2.1.0 with ops', 'mmsegmentation 1.2.2',
                 'mmdet 3.3.0', 'mmpose 1.3.2', 'xtcocotools'):
        assert any(name in line for line in said), (name, said)
    assert said[-1].startswith('[install] mcl_mm') and 'ready' in said[-1]


def test_installed_stack_versions():
    import mmcv
    import mmdet
    import mmengine
    import mmpose
    import mmseg
    import setuptools
    assert (mmengine.__version__, mmcv.__version__, mmseg.__version__, mmdet.__version__,
            mmpose.__version__) == ('0.10.7', '2.1.0', '1.2.2', '3.3.0', '1.3.2')
    major = int(setuptools.__version__.split('.')[0])
    assert 77 <= major < 82
    import pkg_resources  # noqa: F401  mmengine resolves `mmseg::` bases through it


@pytest.mark.parametrize('setup, message', [
    ("sys.modules['mmcv._ext'] = None", 'has no compiled ops'),
    ("sys.modules['mmcv'] = None", 'mmcv is not installed'),
    ("import mmcv; mmcv.__version__ = '2.2.0'", 'found mmcv 2.2.0'),
])
def test_import_check_names_the_fix(setup, message):
    code = (f'import sys; {setup}\n'
            'try:\n    import mcl_mm\nexcept ImportError as e:\n    print(e)\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                         text=True).stdout
    assert message in out and 'mim install mmcv==2.1.0' in out and 'tools/install.sh' in out
