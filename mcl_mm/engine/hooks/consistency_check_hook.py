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


def memory_sizes(model):
    """``(config key, num_samples)`` of every MCL memory of ``model`` (one slot per training
    sample)."""
    found = []
    for name, module in model.named_modules():
        memory = getattr(module, 'memory', None)
        if type(module).__module__.startswith('mcl_mm.') and isinstance(memory, dict) and \
                'num_samples' in memory:
            found.append((f'model.{name}.memory.num_samples', memory['num_samples']))
    return found


@HOOKS.register_module()
class ConsistencyCheckHook(Hook):
    """At ``before_train``, the model agrees with the training set:

    * every head and loss that ignores a label value uses the training set's
      ``ignore_index`` (mmseg data sets): a wrong value trains silently on void pixels or
      drops a class;
    * every MCL memory has one slot per training sample (``memory.num_samples`` equal to the
      data set's length): with more, the unused slots stay random and are drawn as negatives
      for the whole run; with fewer, samples fall outside the memory.

    A disagreement is a ValueError that lists the config keys."""
    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        while hasattr(dataset, 'dataset'):  # RepeatDataset, ConcatDataset of one
            dataset = dataset.dataset
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        wrong = [f'{key}={value}' for key, value in memory_sizes(model)
                 if value != len(dataset)]
        if wrong:
            raise ValueError(
                f'MCL memory size mismatch: train_dataloader.dataset ({type(dataset).__name__}) '
                f'has {len(dataset)} samples, but ' + ', '.join(wrong) + '. Set '
                f'num_samples={len(dataset)}: one memory slot per training sample.')
        expected = getattr(dataset, 'ignore_index', None)
        if expected is None:
            return
        wrong = [f'{key}={value}' for key, value in ignore_index_users(model)
                 if value != expected]
        if wrong:
            raise ValueError(
                f'ignore_index mismatch: train_dataloader.dataset ({type(dataset).__name__}) '
                f'marks ignored pixels with {expected}, but ' + ', '.join(wrong)
                + f'. Set them to {expected} (or change the data set\'s ignore_index).')
