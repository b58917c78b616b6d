"""Make a small synthetic data set in the on-disk layout of a real one.

    python tools/misc/make_synthetic_data.py
        {cityscapes,voc,camvid,coco_det,coco_pose,imagenet,cifar100} OUT_DIR
        [--num-train N] [--num-val M] [--size H W] [--seed S]

Deterministic for a seed; the content (class-specific shapes, colours and textures; keypoints
of drawn stick figures) is learnable in a few hundred CPU iterations. See
``mcl_mm/testing/synthetic_data.py`` for the layouts and the defaults.
"""
import argparse
import os
import os.path as osp

from mcl_mm.testing.synthetic_data import DEFAULT_COUNTS, DEFAULT_SIZES, FORMATS


def parse_args():
    defaults = ', '.join(f'{fmt}: {DEFAULT_COUNTS[fmt][0]}/{DEFAULT_COUNTS[fmt][1]} images of '
                         f'{DEFAULT_SIZES[fmt][0]}x{DEFAULT_SIZES[fmt][1]}' for fmt in FORMATS)
    parser = argparse.ArgumentParser(
        description=f'Make a synthetic data set (defaults: {defaults}).')
    parser.add_argument('format', choices=list(FORMATS), help='the layout to write')
    parser.add_argument('out_dir', help='the folder to write it to')
    parser.add_argument('--num-train', type=int, help='number of training images')
    parser.add_argument('--num-val', type=int,
                        help='number of validation images (CamVid: also of test images; '
                        'CIFAR-100: of test images)')
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'), help='image size')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    return parser.parse_args()


def main():
    args = parse_args()
    out_dir = FORMATS[args.format](args.out_dir, num_train=args.num_train,
                                   num_val=args.num_val, size=args.size, seed=args.seed)
    print(f'wrote a synthetic {args.format} data set to {out_dir}:')
    for folder, _, files in sorted(os.walk(out_dir)):
        if files:
            print(f'  {osp.relpath(folder, out_dir)}/: {len(files)} files')


if __name__ == '__main__':
    main()
