"""Which OpenMMLab toolboxes are installed: mcl_mm needs MMEngine, MMCV and MMSegmentation;
MMDetection and MMPose (and what needs them) are optional, so a user with mmseg alone can
import mcl_mm and use CIRKD."""
import importlib.util


def installed(package: str) -> bool:
    """Whether ``package`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def register_unavailable(registry, name: str, package: str) -> None:
    """Register ``name`` in ``registry`` as a builder that says which toolbox it needs, so a
    config naming ``mcl_mm.<name>`` without ``package`` installed gets that error instead of
    "not in the registry"."""

    def unavailable(*args, **kwargs):
        raise ImportError(f'mcl_mm.{name} needs {package}, which is not installed: install '
                          f'it (bash tools/install.sh installs the whole stack)')

    unavailable.__name__ = name
    registry.register_module(name=name, module=unavailable)
