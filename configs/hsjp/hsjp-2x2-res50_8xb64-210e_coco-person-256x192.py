# HSJP pretext with a 2x2 grid (K = 4, 128x96 cells): only the grid differs from
# hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py.
_base_ = ['./hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py']

grid = (2, 2)
model = dict(head=dict(out_channels=grid[0] * grid[1]))
train_dataloader = dict(dataset=dict(grid=grid))
val_dataloader = dict(dataset=dict(grid=grid))
test_dataloader = val_dataloader
