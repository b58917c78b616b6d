"""Checkpoints named by address, as the stock toolboxes name them, with an offline error that
says where to put the file.

Stock configs initialise from ``open-mmlab://resnet18_v1c``, ``mmcls://mobilenet_v2``,
``torchvision://resnet50`` or ``https://download.openmmlab.com/...``; MMEngine's checkpoint
loader downloads such a file once into torch's hub cache
(``$TORCH_HOME/hub/checkpoints/<file name>``, ``~/.cache/torch`` by default) and reads it from
there afterwards. mcl_mm's configs name the same addresses (ImageNet initialisations, and
``model.teacher_ckpt`` of the CIRKD paper configs), so a user's command needs no manual step
when the machine is online. Offline (a cluster node without internet, CI), a pre-filled cache
works as it is; a file missing from it is one error naming the address, the URL and the exact
path to put the file at (MMEngine would raise ``URLError: Name or service not known``
from inside ``init_weights``).
"""
import os
import socket
import urllib.error
from typing import Optional
from urllib.parse import urlparse

import torch
from mmengine.runner.checkpoint import (
    CheckpointLoader,
    get_deprecated_model_names,
    get_external_models,
    get_mmcls_models,
)

# network failures of a download (urllib wraps most of them in URLError)
NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout,
                  socket.gaierror)
ADDRESS_SCHEMES = ('open-mmlab://', 'openmmlab://', 'mmcls://', 'torchvision://',
                   'modelzoo://', 'https://', 'http://')


def checkpoint_url(name: str) -> Optional[str]:
    """The URL an address stands for (``open-mmlab://resnet18_v1c`` -> ``https://...``), or
    None if it is not known here (a ``torchvision://`` name without torchvision)."""
    if name.startswith(('http://', 'https://')):
        return name
    scheme, _, model = name.partition('://')
    try:
        if scheme in ('open-mmlab', 'openmmlab'):
            urls = get_external_models()
            model = get_deprecated_model_names().get(model, model)
            url = urls.get(model)
        elif scheme == 'mmcls':
            url = get_mmcls_models().get(model)
        elif scheme in ('torchvision', 'modelzoo'):
            from mmengine.runner.checkpoint import get_torchvision_models
            url = get_torchvision_models().get(model)
        else:
            return None
    except ImportError:
        return None
    if url and url.startswith(('open-mmlab://', 'openmmlab://', 'mmcls://')):
        return checkpoint_url(url)  # a deprecated name may map to another address
    return url


def cache_path(url: str) -> str:
    """Where MMEngine (``torch.hub.load_state_dict_from_url``) keeps the file of ``url``."""
    return os.path.join(torch.hub.get_dir(), 'checkpoints',
                        os.path.basename(urlparse(url).path))


def missing_download_error(name: str, error: BaseException) -> FileNotFoundError:
    url = checkpoint_url(name)
    where = (f'put the file ({url}) at {cache_path(url)} (the torch hub cache: '
             '$TORCH_HOME/hub/checkpoints, ~/.cache/torch/hub/checkpoints by default)'
             if url else 'download it on a machine with internet access and copy the torch hub '
             'cache ($TORCH_HOME/hub/checkpoints) over, or give a local path instead')
    return FileNotFoundError(f'cannot download the checkpoint {name} ({type(error).__name__}: '
                             f'{error}). Offline, {where}.')


def _named_offline_errors(loader):

    def load(filename, *args, **kwargs):
        try:
            return loader(filename, *args, **kwargs)
        except NETWORK_ERRORS as e:
            raise missing_download_error(filename, e) from e

    load.__name__ = getattr(loader, '__name__', 'load')
    load.__doc__ = getattr(loader, '__doc__', None)
    load.mcl_mm_wrapped = True
    return load


def name_missing_downloads() -> None:
    """Make MMEngine's loaders of addressed checkpoints (used by ``init_cfg=Pretrained``,
    ``pretrained=``, ``load_from`` and :func:`load_checkpoint`) raise
    :func:`missing_download_error` when a download fails. Idempotent; called when
    :mod:`mcl_mm` is imported."""
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if prefix in ADDRESS_SCHEMES and not getattr(loader, 'mcl_mm_wrapped', False):
            CheckpointLoader._schemes[prefix] = _named_offline_errors(loader)


def is_address(name: str) -> bool:
    return str(name).startswith(ADDRESS_SCHEMES)
