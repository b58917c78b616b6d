"""Write the student of a distiller checkpoint as a stock mmseg checkpoint.

    python tools/model_converters/distiller_to_student.py WORK_DIR/iter_40000.pth student.pth

The result loads in the student's own mmseg config
(``python tools/test.py STUDENT_CONFIG student.pth``) and gives the distiller's mIoU.
"""
import argparse

from mcl_mm.models.export import export_submodel


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='distiller checkpoint (mcl_mm.SegDistiller)')
    parser.add_argument('dst', help='where to write the student checkpoint')
    parser.add_argument('--prefix', default='student.',
                        help="the student's key prefix in the distiller (default: student.)")
    args = parser.parse_args()
    out = export_submodel(args.src, args.dst, args.prefix)
    print(f'wrote {len(out["state_dict"])} tensors under {args.prefix!r} to {args.dst}')


if __name__ == '__main__':
    main()
