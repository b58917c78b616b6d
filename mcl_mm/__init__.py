"""mcl_mm: CIRKD, MCL and HSJP for MMSegmentation, MMDetection and MMPose configs.

Importing the package (``custom_imports=dict(imports=['mcl_mm'])``) checks that mmcv has
its compiled ops, lets torch's ``weights_only`` loader read mmengine checkpoints, makes
mmengine write local files (checkpoints, ``last_checkpoint``) atomically, makes a failed
download of an addressed checkpoint (``open-mmlab://``, ``https://``) an error that says where
to put the file (:mod:`mcl_mm.engine.downloads`), lets configs name mcl_mm's configs as bases
(``_base_ = ['mcl_mm::cirkd/...py']``, as ``mmseg::``; MMEngine only knows the packages it
lists, so this works in processes that import mcl_mm first: mcl_mm's tools, ``mim train
mcl_mm``), and sets up the ``mcl_mm`` registry nodes;
models, hooks and datasets are imported lazily on first use through the registries'
``locations``.
"""
from .version import __version__


def _check_mmcv_ops() -> None:
    hint = ('mcl_mm needs mmcv 2.1.0 with compiled ops (mmcv-lite is not enough): on CPU run '
            '`bash tools/install.sh`; on GPU install torch for your CUDA, then '
            '`pip install -U openmim && mim install mmcv==2.1.0`.')
    try:
        import mmcv
    except ImportError as e:
        raise ImportError(f'mmcv is not installed. {hint}') from e
    if mmcv.__version__ != '2.1.0':
        raise ImportError(f'found mmcv {mmcv.__version__}. {hint}')
    try:
        import mmcv._ext  # noqa: F401  the compiled ops
    except ImportError as e:
        raise ImportError(f'mmcv {mmcv.__version__} has no compiled ops ({e}). {hint}') from e


_check_mmcv_ops()

from mmengine.config.utils import MODULE2PACKAGE  # noqa: E402

from . import registry  # noqa: E402
from .engine.checkpoint import allow_mmengine_checkpoint_types, use_atomic_local_writes  # noqa: E402
from .engine.downloads import name_missing_downloads  # noqa: E402

allow_mmengine_checkpoint_types()
use_atomic_local_writes()
name_missing_downloads()
MODULE2PACKAGE.setdefault('mcl_mm', 'mcl_mm')  # `mcl_mm::` config bases (mcl_mm/.mim/configs)

__all__ = ['__version__', 'registry']
