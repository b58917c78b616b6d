"""Write the backbone of an HSJP pretext checkpoint (a stock ``TopdownPoseEstimator``) for
fine-tuning.

    python tools/model_converters/pose_backbone.py WORK_DIR/epoch_210.pth hsjp_backbone.pth \
        [--with-deconv]

The output keeps the model's key layout (``backbone.*``, and with ``--with-deconv`` also
``head.deconv_layers.*`` of a SimpleBaseline head), so a fine-tune config loads it with
``backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.'))`` and
the deconvolutions with ``head=dict(init_cfg=[..., dict(type='Pretrained', checkpoint=OUT,
prefix='head.')])``; the pretext's final 1x1 layer (K pseudo-keypoints) is never written.
"""
import argparse

import torch

from mcl_mm.models.export import extract_submodel  # importing mcl_mm allow-lists the meta

DECONV_PREFIX = 'head.deconv_layers.'


def extract_pose_backbone(checkpoint: dict, with_deconv: bool = False) -> dict:
    """``dict(meta, state_dict)`` with the ``backbone.`` (and ``head.deconv_layers.``) entries
    of ``checkpoint``, prefixes kept; the meta drops the pretext's config and dataset meta.

    Raises:
        KeyError: if the checkpoint has no ``backbone.`` entries, or no deconvolution layers
            when ``with_deconv`` is set (e.g. an HRNet pretext).
    """
    state = {}
    for prefix in ('backbone.', DECONV_PREFIX) if with_deconv else ('backbone.', ):
        try:
            sub = extract_submodel(checkpoint, prefix)
        except KeyError as e:
            hint = (' (--with-deconv needs a SimpleBaseline head with deconv_layers)'
                    if prefix == DECONV_PREFIX else '')
            raise KeyError(f'{e.args[0]}{hint}') from None
        state.update({prefix + k: v for k, v in sub['state_dict'].items()})
    meta = dict(sub['meta'])
    meta.pop('dataset_meta', None)  # the pretext's K pseudo-keypoints
    meta.update(extracted_from_prefix=('backbone.', DECONV_PREFIX) if with_deconv else
                ('backbone.', ))
    return dict(meta=meta, state_dict=state)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='HSJP pretext checkpoint (TopdownPoseEstimator)')
    parser.add_argument('dst', help='where to write the backbone checkpoint')
    parser.add_argument('--with-deconv', action='store_true',
                        help='also write head.deconv_layers.* (SimpleBaseline)')
    args = parser.parse_args()
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    out = extract_pose_backbone(ckpt, args.with_deconv)
    torch.save(out, args.dst)
    num = {p: sum(k.startswith(p) for k in out['state_dict']) for p in out['meta'][
        'extracted_from_prefix']}
    print(f'wrote {len(out["state_dict"])} tensors ({num}) to {args.dst}')


if __name__ == '__main__':
    main()
