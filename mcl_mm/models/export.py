"""Write one sub-model of a composite checkpoint (a distiller's student, a cohort member) as a
checkpoint that the stock toolbox loads."""
from typing import Optional

import torch


def extract_submodel(checkpoint: dict, prefix: str) -> dict:
    """Keep the ``state_dict`` entries under ``prefix`` (e.g. ``'student.'``), without it.

    Returns ``dict(meta=..., state_dict=...)``; the meta (dataset classes and palette, the
    mmengine version, ...) is kept and records the prefix; training state (optimizer,
    message hub, schedulers) is dropped.

    Raises:
        KeyError: if no entry starts with ``prefix``; the message lists the top-level prefixes
            found.
    """
    state = checkpoint.get('state_dict', checkpoint)
    sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not sub:
        found = sorted({k.split('.')[0] + '.' for k in state})
        raise KeyError(f'no weights under {prefix!r} in the checkpoint; it has {found}')
    meta = dict(checkpoint.get('meta', {}))
    meta.update(extracted_from_prefix=prefix)
    meta.pop('cfg', None)  # the composite model's config would not build the sub-model
    return dict(meta=meta, state_dict=sub)


def export_submodel(src: str, dst: str, prefix: str, map_location: Optional[str] = 'cpu'):
    ckpt = torch.load(src, map_location=map_location, weights_only=True)
    out = extract_submodel(ckpt, prefix)
    torch.save(out, dst)
    return out
