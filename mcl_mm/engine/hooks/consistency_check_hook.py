"""Check before training that the data set and the model agree on the ignored label value."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mcl_mm.registry import HOOKS


def ignore_index_users(model):
    """``(config key, ignore value)`` of every part of ``model`` that skips an ignore label:
    mmseg decode heads (``ignore_index``), CIRKD memory losses (``ignore_index``) and MCL losses
    with pixel sampling (``pixel_sampling['ignore_index']``). Keys read like config keys, e.g.
    ``model.student.decode_head.ignore_index``."""
    found = []
    for name, module in model.named_modules():
        key = 'model.' + name if name else 'model'
        if hasattr(module, 'num_classes') and hasattr(module, 'ignore_index') and \
                hasattr(module, 'conv_seg'):
            found.append((f'{key}.ignore_index', module.ignore_index))
        elif type(module).__module__.startswith('mcl_mm.') and hasattr(module, 'ignore_index'):
            found.append((f'{key}.ignore_index', module.ignore_index))
        sampling = getattr(module, 'pixel_sampling', None)
        if isinstance(sampling, dict) and 'ignore_index' in sampling:
            found.append((f'{key}.pixel_sampling.ignore_index', sampling['ignore_index']))
    return found


@HOOKS.register_module()
class ConsistencyCheckHook(Hook):
    """At ``before_train``: every head and loss of the model that ignores a label value uses
    the training set's ``ignore_index`` (mmseg data sets), else a ValueError lists the config
    keys that disagree. A wrong value here trains silently on void pixels or drops a class."""
    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        while hasattr(dataset, 'dataset'):  # RepeatDataset, ConcatDataset of one
            dataset = dataset.dataset
        expected = getattr(dataset, 'ignore_index', None)
        if expected is None:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        wrong = [f'{key}={value}' for key, value in ignore_index_users(model)
                 if value != expected]
        if wrong:
            raise ValueError(
                f'ignore_index mismatch: train_dataloader.dataset ({type(dataset).__name__}) '
                f'marks ignored pixels with {expected}, but ' + ', '.join(wrong)
                + f'. Set them to {expected} (or change the data set\'s ignore_index).')
