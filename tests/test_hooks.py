"""mcl_mm's runtime hooks: stop at a non-finite loss, check ignore_index consistency."""
import re

import pytest
import torch
from conftest import run_tool

import mcl_mm  # noqa: F401
from mcl_mm.engine.hooks.consistency_check_hook import ignore_index_users

CIRKD = 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'
SEG_COHORT = 'configs/mcl/deeplabv3-r18-halfx2_synthetic-cityscapes.py'


def _opts(data, iters=2, extra=()):
    return ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}'
                               for s in ('train', 'val', 'test')],
            f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=100',
            'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
            'default_hooks.logger.interval=1', 'model.teacher_ckpt=None',
            'model.random_teacher=True', *extra]


@pytest.mark.slow
def test_nan_loss_stops_with_its_name_and_keeps_the_last_good_checkpoint(synthetic_data,
                                                                         tmp_path):
    data = synthetic_data('cityscapes')
    work = tmp_path / 'nan'
    run_tool('tools/train.py', CIRKD, '--work-dir', str(work), *_opts(data))
    good = (work / 'iter_2.pth').read_bytes()
    with pytest.raises(AssertionError) as err:
        run_tool('tools/train.py', CIRKD, '--work-dir', str(work), '--resume',
                 *_opts(data, iters=4, extra=['model.distill_losses.loss_kd.loss_weight=nan']))
    msg = str(err.value)
    assert re.search(r'non-finite loss at iteration 3: .*loss_kd=nan', msg)
    assert f'the last good checkpoint is {work / "iter_2.pth"}' in msg
    assert not (work / 'iter_4.pth').exists()
    assert (work / 'iter_2.pth').read_bytes() == good
    assert (work / 'last_checkpoint').read_text().strip().endswith('iter_2.pth')


def test_ignore_index_users_names_config_keys():
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(SEG_COHORT)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    found = dict(ignore_index_users(model))
    assert found['model.members.0.decode_head.ignore_index'] == 255
    assert found['model.members.1.auxiliary_head.ignore_index'] == 255
    assert found['model.mcl_loss.pixel_sampling.ignore_index'] == 255


@pytest.mark.slow
@pytest.mark.parametrize('config, option, key', [
    (CIRKD, 'model.distill_losses.loss_cirkd_mem.ignore_index=0',
     'model.distill_losses.loss_cirkd_mem.ignore_index=0'),
    (SEG_COHORT, 'model.mcl_loss.pixel_sampling.ignore_index=0',
     'model.mcl_loss.pixel_sampling.ignore_index=0'),
])
def test_ignore_index_mismatch_is_refused_before_training(synthetic_data, tmp_path, config,
                                                          option, key):
    data = synthetic_data('cityscapes')
    opts = _opts(data, extra=[option])
    if config == SEG_COHORT:
        opts = [o for o in opts if 'teacher' not in o]
    with pytest.raises(AssertionError) as err:
        run_tool('tools/train.py', config, '--work-dir', str(tmp_path / 'w'), *opts)
    msg = str(err.value)
    assert 'ignore_index mismatch: train_dataloader.dataset (CityscapesDataset) marks ' \
           'ignored pixels with 255' in msg and key in msg
    assert not list((tmp_path / 'w').glob('iter_*.pth'))


def test_memory_size_must_match_the_training_set():
    """An MCL memory of more slots than training samples keeps random slots as negatives for
    the whole run; fewer leaves samples out: both are refused before training."""
    from types import SimpleNamespace

    from mcl_mm.engine.hooks import ConsistencyCheckHook
    from mcl_mm.models.losses import MCLLoss
    model = torch.nn.Module()
    model.mcl_loss = MCLLoss([8, 8], memory=dict(num_samples=64, neg_k=4))
    runner = SimpleNamespace(model=model,
                             train_dataloader=SimpleNamespace(dataset=list(range(50))))
    with pytest.raises(ValueError, match=r'train_dataloader.dataset \(list\) has 50 samples, '
                                         r'but model.mcl_loss.memory.num_samples=64'):
        ConsistencyCheckHook().before_train(runner)
    model.mcl_loss = MCLLoss([8, 8], memory=dict(num_samples=50, neg_k=4))
    ConsistencyCheckHook().before_train(runner)


def test_finite_loss_hook_reads_graph_tensors_without_warning_and_names_the_bad_one():
    import warnings
    from types import SimpleNamespace

    from mcl_mm.engine.hooks import FiniteLossHook
    w = torch.ones(1, requires_grad=True)
    outputs = dict(loss=(w * 2).sum(), loss_kd=(w * 0.5).sum(), acc=torch.tensor(1.0))
    runner = SimpleNamespace(iter=4, work_dir='/nonexistent')
    # torch warns on float() of a tensor that needs grad, once per process unless told always
    warn_always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            FiniteLossHook().after_train_iter(runner, 0, outputs=outputs)
            outputs['loss_kd'] = (w * float('inf')).sum()
            with pytest.raises(FloatingPointError, match=r'iteration 5: loss_kd=inf\. .*none'):
                FiniteLossHook().after_train_iter(runner, 0, outputs=outputs)
    finally:
        torch.set_warn_always(warn_always)
