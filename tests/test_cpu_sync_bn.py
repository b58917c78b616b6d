"""GlooSyncBatchNorm: SyncBN on CPU process groups equals BN over the whole global batch."""
import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
from conftest import run_tool
from torch import nn

from mcl_mm.engine.cpu_sync_bn import GlooSyncBatchNorm, convert_sync_batchnorm


def _worker(rank, world_size, init_file, out_dir):
    tdist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                             world_size=world_size)
    torch.manual_seed(0)
    full = torch.randn(4, 3, 5, 5, dtype=torch.float64) * 3 + 1
    x = full[2 * rank:2 * rank + 2].clone().requires_grad_()
    bn = GlooSyncBatchNorm(3).double()
    bn.weight.data = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    y = bn(x)
    (y * torch.arange(y.numel(), dtype=torch.float64).view_as(y).sin()).sum().backward()
    torch.save(dict(y=y.detach(), gx=x.grad, gw=bn.weight.grad, rm=bn.running_mean,
                    rv=bn.running_var), f'{out_dir}/rank{rank}.pt')
    tdist.destroy_process_group()


def test_gloo_sync_bn_equals_batch_norm_on_the_global_batch(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    r = [torch.load(tmp_path / f'rank{k}.pt') for k in (0, 1)]
    torch.manual_seed(0)
    full = (torch.randn(4, 3, 5, 5, dtype=torch.float64) * 3 + 1).requires_grad_()
    bn = nn.BatchNorm2d(3).double()
    bn.weight.data = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    y = bn(full)
    weights = torch.cat([torch.arange(2 * 75, dtype=torch.float64).view(2, 3, 5, 5).sin()] * 2)
    (y * weights).sum().backward()
    assert torch.allclose(torch.cat([r[0]['y'], r[1]['y']]), y.detach())
    assert torch.allclose(torch.cat([r[0]['gx'], r[1]['gx']]), full.grad)
    # DDP sums (then averages) the ranks' parameter gradients
    assert torch.allclose(r[0]['gw'] + r[1]['gw'], bn.weight.grad)
    for k in (0, 1):
        assert torch.allclose(r[k]['rm'], bn.running_mean)
        assert torch.allclose(r[k]['rv'], bn.running_var)


def test_convert_sync_batchnorm_keeps_state_and_single_process_is_plain_bn():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.SyncBatchNorm(4), nn.ReLU())
    model[1].running_mean.fill_(0.5)
    model.eval()
    converted = convert_sync_batchnorm(model)
    assert isinstance(converted[1], GlooSyncBatchNorm) and not converted[1].training
    assert torch.equal(converted[1].running_mean, torch.full((4, ), 0.5))
    plain = nn.BatchNorm2d(4).train()
    bn = GlooSyncBatchNorm(4).train()
    x = torch.randn(2, 4, 3, 3)
    assert torch.allclose(bn(x), plain(x))


@pytest.mark.slow
def test_syncbn_config_trains_on_two_cpu_processes(synthetic_data, tmp_path):
    """The recipe's SyncBN (here in the whole DeepLabV3 and the CIRKD projection head) trains
    with dist_train.sh on two gloo processes."""
    data = synthetic_data('cityscapes')
    config = 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'
    log = run_tool('tools/dist_train.sh', config, '2', '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}'
                                      for s in ('train', 'val', 'test')],
                   'train_cfg.max_iters=2', 'train_cfg.val_interval=100',
                   'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=1',
                   'model.teacher_ckpt=None', 'model.random_teacher=True',
                   'model.student.backbone.norm_cfg.type=SyncBN',
                   'model.student.decode_head.norm_cfg.type=SyncBN',
                   'model.distill_losses.loss_cirkd_mem.norm_cfg.type=SyncBN',
                   env=dict(PORT='29553'))
    assert 'rank 1 of 2' in log and (tmp_path / 'w' / 'iter_2.pth').exists()
