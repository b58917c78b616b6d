"""Write member k of a cohort checkpoint (mcl_mm.MCLCohort / ModelGroup) as a stock checkpoint.

    # the whole member: loads in its own config (python tools/test.py MEMBER_CONFIG member1.pth)
    python tools/model_converters/cohort_member.py WORK_DIR/iter_40000.pth member1.pth --member 1
    # its backbone only, for transfer: keys as mmpretrain's, torchvision's, mmdet's and mmseg's
    # ResNet, for backbone.init_cfg=dict(type='Pretrained', checkpoint='member0_backbone.pth')
    python tools/model_converters/cohort_member.py WORK_DIR/epoch_90.pth member0_backbone.pth \
        --member 0 --backbone

Projection heads, memories, auxiliary branches and aggregators are not part of a member and
are left behind.
"""
import argparse

from mcl_mm.models.export import export_submodel


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='cohort checkpoint')
    parser.add_argument('dst', help='where to write the member checkpoint')
    parser.add_argument('--member', type=int, default=0, help='member index (default 0)')
    parser.add_argument('--backbone', action='store_true',
                        help="write the member's backbone weights only, without the prefix")
    args = parser.parse_args()
    prefix = f'members.{args.member}.' + ('backbone.' if args.backbone else '')
    out = export_submodel(args.src, args.dst, prefix)
    print(f'wrote {len(out["state_dict"])} tensors under {prefix!r} to {args.dst}')


if __name__ == '__main__':
    main()
