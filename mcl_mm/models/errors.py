"""Errors of a composite's parts that name the config key they come from."""
from contextlib import contextmanager


@contextmanager
def config_key(key: str):
    """Re-raise a ValueError from the block with ``key`` (e.g. ``model.mutual_kd``) in front,
    so a loss's complaint about its inputs says which config entry it is about."""
    try:
        yield
    except ValueError as e:
        if str(e).startswith(key):
            raise
        raise ValueError(f'{key}: {e}') from e


def infer_channels(cfg: dict, key: str, name: str, recorder) -> None:
    """Fill ``cfg[name]`` (a loss's channel count) from ``recorder`` when it is unset, or check
    it when the recorded module says its channels; errors name ``key.name``."""
    found = recorder.channels()
    given = cfg.get(name)
    if given is None:
        if found is None:
            raise ValueError(
                f'{key}.{name} must be set: the recorder {recorder.key} '
                f'(module {recorder.name!r}) does not say its channels (only a convolution '
                'or linear layer, without index or transform, does)')
        cfg[name] = found
    elif found is not None and given != found:
        raise ValueError(f'{key}.{name}={given}, but the recorder {recorder.key} (module '
                         f'{recorder.name!r}) gives {found} channels: set {key}.{name}={found} '
                         'or leave it unset')


def check_init_model_keys(owner: str, parts: str, pretrained=None, train_cfg=None) -> None:
    """``mmseg.apis.init_model`` (behind ``inference_model`` and mmseg's demos) sets
    ``model.pretrained=None`` and ``model.train_cfg=None`` on every config before it builds
    the model; a composite (``owner``) takes both, and None is all they may be: its parts
    (``parts``, e.g. ``model.student``) have their own. Any other value is an error naming
    where it belongs."""
    for name, value in (('pretrained', pretrained), ('train_cfg', train_cfg)):
        if value is not None:
            raise ValueError(
                f'model.{name}={value!r}: {owner} has no {name} of its own (only None is '
                f'taken, as mmseg.apis.init_model sets it); give it to its models in {parts} '
                f'(e.g. {parts}.{name})')
