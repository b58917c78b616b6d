"""Record a module's input or output by its name, with a forward hook (as MMRazor's recorders),
so that distillers and cohorts read intermediate tensors of any architecture by config."""
import difflib
from typing import Optional

import torch
from torch import nn


class ModuleRecorder:
    """Keeps the latest input (``io='input'``: the first positional input) or output of a module.

    Args:
        model (nn.Module): the model that holds the module.
        name (str): the module's name in ``model.named_modules()``, e.g. 'decode_head.conv_seg'.
        io (str): 'input' or 'output'.
        key (str): the config key, for error messages.
    """

    def __init__(self, model: nn.Module, name: str, io: str, key: str):
        modules = dict(model.named_modules())
        if name not in modules:
            close = difflib.get_close_matches(name, list(modules), n=5, cutoff=0.5)
            raise ValueError(f'{key}: no module named {name!r}; close matches: {close}')
        if io not in ('input', 'output'):
            raise ValueError(f"{key}.io must be 'input' or 'output', got {io!r}")
        self.io = io
        self.data: Optional[torch.Tensor] = None
        modules[name].register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.data = inputs[0] if self.io == 'input' else output
