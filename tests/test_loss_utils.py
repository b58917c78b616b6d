"""mcl_mm.models.losses.utils: the label resize picks the pixels F.interpolate(mode='nearest')
picks (the authors' way), at every size ratio."""
import pytest
import torch
import torch.nn.functional as F

from mcl_mm.models.losses.utils import nearest_labels


@pytest.mark.parametrize('src,dst', [((512, 1024), (64, 128)), ((500, 375), (63, 47)),
                                     ((97, 131), (13, 17)), ((33, 65), (100, 7)),
                                     ((1024, 2048), (129, 257)), ((7, 9), (3, 2)),
                                     ((16, 16), (16, 16))])
def test_nearest_labels_equal_interpolate(src, dst):
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 256, (2, *src), generator=g)
    expected = F.interpolate(labels[:, None].float(), size=dst, mode='nearest')[:, 0].long()
    out = nearest_labels(labels, dst)
    assert out.dtype == labels.dtype
    assert torch.equal(out, expected)
