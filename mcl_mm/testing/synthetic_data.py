"""Format-exact, learnable, deterministic synthetic data sets.

One public function per format, ``make_<format>(out_dir, num_train=None, num_val=None,
size=None, seed=0)``, writes a small data set in the exact on-disk layout of the real one
and returns ``out_dir``. ``FORMATS`` maps the format names of
``tools/misc/make_synthetic_data.py`` to these functions; ``None`` arguments take the
per-format values of ``DEFAULT_COUNTS`` (images per split) and ``DEFAULT_SIZES`` (H, W).

Learnable: every class has a "style" -- its own colour (from a well-separated RGB set), polygon
shape and aspect ratio, and stripe/checker texture -- drawn with per-instance colour jitter and
image noise at random positions and sizes over a background class, so colour alone already
separates the classes and a small CNN learns them in a few hundred iterations. Keypoints follow
drawn stick figures (left and right limbs in different colours).

Deterministic: each split draws from ``numpy.random.default_rng([seed, split])``; PNGs are
written by cv2 (Pillow for VOC's palette PNGs) with fixed settings and JPEGs at a fixed
quality, so the same seed gives byte-identical files.

COCO-style masks are exact: an object's pixels are the COCO API's own rasterisation of the
polygon written to the json (``pycocotools``), and its ``bbox``/``area`` are those of that mask.
"""
import functools
import hashlib
import json
import os
import os.path as osp
import pickle

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

DEFAULT_SIZES = {
    'cityscapes': (128, 256),
    'voc': (128, 160),
    'camvid': (96, 128),  # the 360x480 (3:4) aspect of the SegNet release
    'coco_det': (128, 160),
    'coco_pose': (128, 160),
    'imagenet': (64, 64),
    'cifar100': (32, 32),  # fixed by the format
}
DEFAULT_COUNTS = {  # (num_train, num_val) images
    'cityscapes': (24, 8),
    'voc': (24, 8),
    'camvid': (24, 8),
    'coco_det': (24, 8),
    'coco_pose': (24, 8),
    'imagenet': (50, 20),
    'cifar100': (200, 100),  # (train, test)
}
SPLIT_KEYS = {'train': 0, 'val': 1, 'test': 2, 'aug': 3}
JPEG_QUALITY = 95
TEXTURE_AMPLITUDE = 14  # +- grey levels of the class texture
COLOUR_JITTER = 8  # +- grey levels of the per-instance colour
NOISE_STD = 4  # Gaussian image noise

# Cityscapes: 19 train ids, 255 = ignore; the ignore band at the bottom is the ego vehicle
CITYSCAPES_CITIES = {'train': ('aachen', 'bochum'), 'val': ('frankfurt', 'munster')}
CITYSCAPES_TRAINID_TO_ID = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31,
                            32, 33)
CITYSCAPES_EGO_VEHICLE_ID = 1
CITYSCAPES_ROAD, CITYSCAPES_SKY = 0, 10

# Pascal VOC: 21 classes (0 = background), 255 = object boundary in SegmentationClass
VOC_YEARS = {'train': 2008, 'val': 2009, 'aug': 2011}  # id prefixes, e.g. 2008_000000

# CamVid (SegNet release): 11 classes, 11 = void (mcl_mm.CamVidDataset maps it to 255)
CAMVID_NUM_CLASSES = 11
CAMVID_VOID = 11
CAMVID_SKY, CAMVID_ROAD = 0, 3
CAMVID_SEQUENCES = {'train': ('0001TP', '0006R0'), 'val': ('0016E5',), 'test': ('Seq05VD',)}

# COCO detection: the first five COCO categories with their real ids; as the first five, the
# labels mmdet's CocoDataset gives them are the same with metainfo=dict(classes=COCO_DET_CLASSES)
# and with the stock 80-class metainfo.
COCO_DET_CATEGORIES = (
    dict(supercategory='person', id=1, name='person'),
    dict(supercategory='vehicle', id=2, name='bicycle'),
    dict(supercategory='vehicle', id=3, name='car'),
    dict(supercategory='vehicle', id=4, name='motorcycle'),
    dict(supercategory='vehicle', id=5, name='airplane'),
)
COCO_DET_CLASSES = tuple(c['name'] for c in COCO_DET_CATEGORIES)

# COCO keypoints
COCO_KEYPOINTS = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
                  'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
                  'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
                  'right_ankle')
COCO_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7],
                 [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5],
                 [4, 6], [5, 7]]  # 1-based, as in person_keypoints_*.json
COCO_PERSON = dict(supercategory='person', id=1, name='person')
KP = {name: i for i, name in enumerate(COCO_KEYPOINTS)}

# ImageNet: the first ten ILSVRC-2012 classes, so labels 0..9 are the real class indices
IMAGENET_WNIDS = ('n01440764', 'n01443537', 'n01484850', 'n01491361', 'n01494475',
                  'n01496331', 'n01498041', 'n01514668', 'n01514859', 'n01518878')
IMAGENET_NAMES = ('tench', 'goldfish', 'great white shark', 'tiger shark', 'hammerhead',
                  'electric ray', 'stingray', 'cock', 'hen', 'ostrich')

# CIFAR-100: the 20 superclasses and their 5 classes each, as listed on the CIFAR page. The fine
# and the coarse label names of the release's ``meta`` are these names sorted (labels 0..99,
# 0..19); the fine names in that order are mmpretrain's ``CIFAR100_CATEGORIES``, the classes of
# its ``CIFAR100`` (tests/test_classifier.py checks that they agree).
CIFAR100_SUPERCLASSES = (
    ('aquatic_mammals', ('beaver', 'dolphin', 'otter', 'seal', 'whale')),
    ('fish', ('aquarium_fish', 'flatfish', 'ray', 'shark', 'trout')),
    ('flowers', ('orchid', 'poppy', 'rose', 'sunflower', 'tulip')),
    ('food_containers', ('bottle', 'bowl', 'can', 'cup', 'plate')),
    ('fruit_and_vegetables', ('apple', 'mushroom', 'orange', 'pear', 'sweet_pepper')),
    ('household_electrical_devices', ('clock', 'keyboard', 'lamp', 'telephone', 'television')),
    ('household_furniture', ('bed', 'chair', 'couch', 'table', 'wardrobe')),
    ('insects', ('bee', 'beetle', 'butterfly', 'caterpillar', 'cockroach')),
    ('large_carnivores', ('bear', 'leopard', 'lion', 'tiger', 'wolf')),
    ('large_man-made_outdoor_things', ('bridge', 'castle', 'house', 'road', 'skyscraper')),
    ('large_natural_outdoor_scenes', ('cloud', 'forest', 'mountain', 'plain', 'sea')),
    ('large_omnivores_and_herbivores', ('camel', 'cattle', 'chimpanzee', 'elephant',
                                        'kangaroo')),
    ('medium_mammals', ('fox', 'porcupine', 'possum', 'raccoon', 'skunk')),
    ('non-insect_invertebrates', ('crab', 'lobster', 'snail', 'spider', 'worm')),
    ('people', ('baby', 'boy', 'girl', 'man', 'woman')),
    ('reptiles', ('crocodile', 'dinosaur', 'lizard', 'snake', 'turtle')),
    ('small_mammals', ('hamster', 'mouse', 'rabbit', 'shrew', 'squirrel')),
    ('trees', ('maple_tree', 'oak_tree', 'palm_tree', 'pine_tree', 'willow_tree')),
    ('vehicles_1', ('bicycle', 'bus', 'motorcycle', 'pickup_truck', 'train')),
    ('vehicles_2', ('lawn_mower', 'rocket', 'streetcar', 'tank', 'tractor')),
)
CIFAR100_CLASSES = tuple(sorted(f for _, fine in CIFAR100_SUPERCLASSES for f in fine))
CIFAR100_COARSE_CLASSES = tuple(sorted(c for c, _ in CIFAR100_SUPERCLASSES))
CIFAR100_FINE_TO_COARSE = tuple(  # coarse label of each fine label
    next(CIFAR100_COARSE_CLASSES.index(c) for c, fine in CIFAR100_SUPERCLASSES if f in fine)
    for f in CIFAR100_CLASSES)
CIFAR100_BASE_FOLDER = 'cifar-100-python'  # the release's folder (mmpretrain's base_folder)
CIFAR100_FILES = ('train', 'test', 'meta')
# The synthetic pickles are not the release's, so they fail the md5 sums that mmpretrain's
# CIFAR100 checks; this manifest, written beside the release folder, holds their own, which
# mcl_mm.SyntheticCIFAR100 checks instead: {"format": "cifar-100-python", "folder":
# "cifar-100-python", "md5": {"train": ..., "test": ..., "meta": ...}}.
CIFAR100_MANIFEST = 'cifar-100-python.synthetic.json'
# ten of the 100 fine classes used, spread over the label range (0, 11, ..., 99)
CIFAR100_USED_LABELS = tuple(range(0, 100, 11))


# ------------------------------------------------------------------------------ class styles
def _spread_colours():
    """The 27 colours of the grid {32, 128, 224}^3 (BGR), ordered farthest-point first.

    Index 0 is mid-grey; every prefix is spread out and any two colours are >= 96 apart.
    """
    levels = (32, 128, 224)
    grid = np.array([(b, g, r) for b in levels for g in levels for r in levels], np.float32)
    order = [13]  # (128, 128, 128)
    dist = np.linalg.norm(grid - grid[13], axis=1)
    while len(order) < len(grid):
        nxt = int(np.argmax(dist))
        order.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(grid - grid[nxt], axis=1))
    return grid[order]


def _regular_polygon(n, radii=(1.0, ), phase=-np.pi / 2):
    """Unit polygon with ``n * len(radii)`` vertices whose radii cycle through ``radii``."""
    k = np.arange(n * len(radii))
    angle = phase + 2 * np.pi * k / len(k)
    radius = np.asarray(radii)[k % len(radii)]
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


_T = 0.35  # half width of the cross's arms
CLASS_COLOURS = _spread_colours()
SHAPES = {
    'ellipse': _regular_polygon(24),
    'rectangle': np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64),
    'triangle': _regular_polygon(3),
    'diamond': _regular_polygon(4),
    'star': _regular_polygon(5, radii=(1.0, 0.45)),
    'hexagon': _regular_polygon(6, phase=0),
    'cross': np.array([[-_T, -1], [_T, -1], [_T, -_T], [1, -_T], [1, _T], [_T, _T], [_T, 1],
                       [-_T, 1], [-_T, _T], [-1, _T], [-1, -_T], [-_T, -_T]]),
    'pentagon': _regular_polygon(5),
}
SHAPE_NAMES = tuple(SHAPES)
ASPECTS = (1.0, 1.6, 0.6)  # width / height of a style's shape


def style_colour(style):
    """BGR colour (float32 [3]) of class style ``style``."""
    return CLASS_COLOURS[style]


@functools.lru_cache(maxsize=256)
def style_texture(style, h, w):
    """Read-only (h, w) pattern of +-1: stripes (checkers for half of the styles) of a
    style-specific angle and period."""
    theta = np.deg2rad((style * 47) % 180)
    period = 4.0 + 2 * (style % 4)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    pattern = np.where(np.sin(2 * np.pi * u / period) >= 0, 1.0, -1.0).astype(np.float32)
    if (style // 2) % 2:
        v = yy * np.cos(theta) - xx * np.sin(theta)
        pattern *= np.where(np.sin(2 * np.pi * v / period) >= 0, 1.0, -1.0)
    pattern.setflags(write=False)
    return pattern


def _scaled_shape(style, radius):
    """Style ``style``'s shape (its polygon kind and aspect ratio), ``radius`` half high."""
    unit = SHAPES[SHAPE_NAMES[style % len(SHAPE_NAMES)]]
    return unit * np.array([radius * ASPECTS[style % len(ASPECTS)], radius])


def shape_polygon(style, cx, cy, radius, angle):
    """(N, 2) polygon of style ``style``'s shape, centred at (cx, cy), ``radius`` half high,
    rotated by ``angle`` radians; vertices rounded to 2 decimals."""
    c, s = np.cos(angle), np.sin(angle)
    rotated = _scaled_shape(style, radius) @ np.array([[c, s], [-s, c]])
    return np.round(rotated + np.array([cx, cy]), 2)


def shape_extent(style, radius):
    """Radius of a circle that holds style ``style``'s shape at any rotation."""
    return float(np.linalg.norm(_scaled_shape(style, radius), axis=1).max())


def polygon_rle(polygon, h, w):
    """COCO RLE of a polygon (N, 2), rasterised exactly as the COCO API does."""
    return mask_utils.merge(mask_utils.frPyObjects([polygon.ravel().tolist()], h, w))


def polygon_mask(polygon, h, w):
    """Boolean (h, w) mask of a polygon (N, 2), the COCO API's rasterisation."""
    return mask_utils.decode(polygon_rle(polygon, h, w)).astype(bool)


def paint(img, mask, style, rng):
    """Paint ``mask`` of float image ``img`` with style ``style``: its colour (with per-instance
    jitter) plus its texture."""
    colour = style_colour(style) + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, 3)
    texture = style_texture(style, *img.shape[:2])[mask]
    img[mask] = colour + TEXTURE_AMPLITUDE * texture[:, None]


def finish(img, rng):
    """Float image -> uint8 image with Gaussian noise."""
    noisy = img + rng.normal(0, NOISE_STD, img.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def background(rng, size, style=0):
    """Float (h, w, 3) image filled with style ``style`` (mid-grey for style 0)."""
    img = np.zeros((*size, 3), np.float32)
    paint(img, np.ones(size, bool), style, rng)
    return img


def free_spot(rng, box_w, box_h, area_w, area_h, taken, margin=2, tries=100):
    """Top-left (x, y) of a ``box_w`` x ``box_h`` box inside ``area_w`` x ``area_h`` that keeps
    ``margin`` pixels from the boxes (x0, y0, x1, y1) in ``taken`` (the new box is added to it);
    None where no such place was found in ``tries`` draws."""
    if box_w > area_w or box_h > area_h:
        return None
    for _ in range(tries):
        x = float(rng.uniform(0, area_w - box_w))
        y = float(rng.uniform(0, area_h - box_h))
        box = (x - margin, y - margin, x + box_w + margin, y + box_h + margin)
        if all(box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1]
               for t in taken):
            taken.append(box)
            return x, y
    return None


# ------------------------------------------------------------------------------- file output
def _split_rng(seed, split):
    return np.random.default_rng([seed, SPLIT_KEYS[split]])


def _resolve(fmt, num_train, num_val, size):
    default_train, default_val = DEFAULT_COUNTS[fmt]
    num_train = default_train if num_train is None else int(num_train)
    num_val = default_val if num_val is None else int(num_val)
    size = DEFAULT_SIZES[fmt] if size is None else (int(size[0]), int(size[1]))
    return num_train, num_val, size


def _makedirs_for(path):
    os.makedirs(osp.dirname(path), exist_ok=True)


def write_png(path, array):
    """Write a uint8 image (H, W, 3 BGR) or label map (H, W) as PNG with cv2."""
    _makedirs_for(path)
    if not cv2.imwrite(path, array, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise OSError(f'could not write {path}')


def write_jpg(path, img):
    """Write a uint8 BGR image as JPEG with cv2 at ``JPEG_QUALITY``."""
    _makedirs_for(path)
    if not cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f'could not write {path}')


def write_lines(path, lines):
    _makedirs_for(path)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def write_json(path, obj):
    _makedirs_for(path)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))


# ---------------------------------------------------------------------- semantic segmentation
def draw_seg_sample(rng, size, background_styles, object_styles, ignore_rows=0):
    """One semantic-segmentation sample: (uint8 BGR image, uint8 label map).

    Class ids are style ids. The background is ``background_styles[0]`` above a random horizon
    and ``background_styles[-1]`` below it; ``h * w / 2500`` objects of random classes from
    ``object_styles`` are drawn over it (later ones occlude earlier ones). The bottom
    ``ignore_rows`` rows are a dark "ego vehicle" band labelled 255.
    """
    h, w = size
    label = np.full(size, background_styles[-1], np.uint8)
    label[:int(rng.uniform(0.3, 0.5) * h)] = background_styles[0]
    img = np.zeros((h, w, 3), np.float32)
    for style in dict.fromkeys(background_styles):
        paint(img, label == style, style, rng)
    for _ in range(max(3, round(h * w / 2500))):
        style = int(rng.choice(object_styles))
        polygon = shape_polygon(style, rng.uniform(0, w), rng.uniform(0, h),
                                rng.uniform(0.08, 0.22) * min(h, w), rng.uniform(-0.5, 0.5))
        mask = polygon_mask(polygon, h, w)
        paint(img, mask, style, rng)
        label[mask] = style
    if ignore_rows:
        img[-ignore_rows:] = 20
        label[-ignore_rows:] = 255
    return finish(img, rng), label


def make_cityscapes(out_dir, num_train=None, num_val=None, size=None, seed=0):
    """Cityscapes layout, read by mmseg's ``CityscapesDataset``::

        leftImg8bit/{train,val}/<city>/<city>_<seq:06d>_000019_leftImg8bit.png
        gtFine/{train,val}/<city>/<city>_<seq:06d>_000019_gtFine_labelTrainIds.png
        gtFine/{train,val}/<city>/<city>_<seq:06d>_000019_gtFine_labelIds.png

    Train ids 0..18 (road below / sky above a horizon, 17 object classes over them) and 255
    for a thin ego-vehicle band at the bottom (label id 1 in ``labelIds``). Images go round the
    split's two cities.
    """
    num_train, num_val, size = _resolve('cityscapes', num_train, num_val, size)
    id_lut = np.zeros(256, np.uint8)
    id_lut[:19] = CITYSCAPES_TRAINID_TO_ID
    id_lut[255] = CITYSCAPES_EGO_VEHICLE_ID
    objects = [c for c in range(19) if c not in (CITYSCAPES_ROAD, CITYSCAPES_SKY)]
    for split, num in (('train', num_train), ('val', num_val)):
        rng = _split_rng(seed, split)
        cities = CITYSCAPES_CITIES[split]
        for i in range(num):
            city = cities[i % len(cities)]
            stem = f'{city}_{i // len(cities):06d}_000019'
            img, label = draw_seg_sample(rng, size, (CITYSCAPES_SKY, CITYSCAPES_ROAD), objects,
                                         ignore_rows=max(2, round(0.05 * size[0])))
            write_png(osp.join(out_dir, 'leftImg8bit', split, city, f'{stem}_leftImg8bit.png'),
                      img)
            gt = osp.join(out_dir, 'gtFine', split, city, f'{stem}_gtFine_')
            write_png(gt + 'labelTrainIds.png', label)
            write_png(gt + 'labelIds.png', id_lut[label])
    return out_dir


def voc_palette():
    """The Pascal VOC colour map: 256 RGB triplets, flattened (Pillow's ``putpalette``)."""
    palette = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette.ravel().tolist()


def write_palette_png(path, label, palette):
    """Write a label map as a palette ('P' mode) PNG, as VOC's SegmentationClass files are."""
    _makedirs_for(path)
    img = Image.frombytes('P', label.shape[::-1], np.ascontiguousarray(label).tobytes())
    img.putpalette(palette)
    img.save(path, format='PNG')


def add_boundary(label, value=255):
    """Copy of ``label`` with ``value`` on the (about two pixels wide) class boundaries."""
    kernel = np.ones((3, 3), np.uint8)
    out = label.copy()
    out[cv2.dilate(label, kernel) != cv2.erode(label, kernel)] = value
    return out


def make_voc(out_dir, num_train=None, num_val=None, size=None, seed=0):
    """Pascal VOC 2012 (+ aug) layout under ``out_dir/VOC2012``, read by mmseg's
    ``PascalVOCDataset``::

        JPEGImages/<id>.jpg
        SegmentationClass/<id>.png     palette PNG, 0..20 and 255 on object boundaries
        SegmentationClassAug/<id>.png  grayscale PNG, 0..20 (no boundaries)
        ImageSets/Segmentation/{train,val,trainval,aug}.txt

    ``aug.txt`` lists the train ids and ``num_train`` aug-only ids, which have images and
    ``SegmentationClassAug`` labels only. Ids look like ``2008_000000`` (train), ``2009_*``
    (val) and ``2011_*`` (aug-only).
    """
    num_train, num_val, size = _resolve('voc', num_train, num_val, size)
    root = osp.join(out_dir, 'VOC2012')
    palette = voc_palette()
    ids = {}
    for split, num in (('train', num_train), ('val', num_val), ('aug', num_train)):
        rng = _split_rng(seed, split)
        ids[split] = [f'{VOC_YEARS[split]}_{i:06d}' for i in range(num)]
        for name in ids[split]:
            img, label = draw_seg_sample(rng, size, (0, ), range(1, 21))
            write_jpg(osp.join(root, 'JPEGImages', f'{name}.jpg'), img)
            write_png(osp.join(root, 'SegmentationClassAug', f'{name}.png'), label)
            if split != 'aug':
                write_palette_png(osp.join(root, 'SegmentationClass', f'{name}.png'),
                                  add_boundary(label), palette)
    sets = osp.join(root, 'ImageSets', 'Segmentation')
    write_lines(osp.join(sets, 'train.txt'), ids['train'])
    write_lines(osp.join(sets, 'val.txt'), ids['val'])
    write_lines(osp.join(sets, 'trainval.txt'), ids['train'] + ids['val'])
    write_lines(osp.join(sets, 'aug.txt'), ids['train'] + ids['aug'])
    return out_dir


def make_camvid(out_dir, num_train=None, num_val=None, size=None, seed=0):
    """CamVid as in the SegNet release (11 classes), read by ``mcl_mm.CamVidDataset``::

        {train,val,test}/<seq>_<frame:06d>.png
        {train,val,test}annot/<seq>_<frame:06d>.png   grayscale, 0..10 and 11 = void

    Road below / sky above a horizon, the other 9 classes as objects, a thin void band at the
    bottom. The test split has ``num_val`` images.
    """
    num_train, num_val, size = _resolve('camvid', num_train, num_val, size)
    objects = [c for c in range(CAMVID_NUM_CLASSES) if c not in (CAMVID_SKY, CAMVID_ROAD)]
    for split, num in (('train', num_train), ('val', num_val), ('test', num_val)):
        rng = _split_rng(seed, split)
        sequences = CAMVID_SEQUENCES[split]
        for i in range(num):
            name = f'{sequences[i % len(sequences)]}_{30 * (i // len(sequences)):06d}.png'
            img, label = draw_seg_sample(rng, size, (CAMVID_SKY, CAMVID_ROAD), objects,
                                         ignore_rows=max(2, round(0.04 * size[0])))
            label[label == 255] = CAMVID_VOID
            write_png(osp.join(out_dir, split, name), img)
            write_png(osp.join(out_dir, f'{split}annot', name), label)
    return out_dir


# ------------------------------------------------------------------------------------- COCO
def coco_json(images, annotations, categories):
    """A COCO annotation file's content (info, licenses, images, annotations, categories)."""
    return dict(
        info=dict(description='mcl_mm synthetic data in COCO format', url='', version='1.0',
                  year=2017, contributor='mcl_mm', date_created='2017/09/01'),
        licenses=[dict(url='', id=1, name='synthetic, no restrictions')],
        images=images,
        annotations=annotations,
        categories=list(categories))


def coco_image(image_id, size):
    """A COCO ``images`` entry for ``<image_id:012d>.jpg``."""
    return dict(license=1, file_name=f'{image_id:012d}.jpg', coco_url='', height=size[0],
                width=size[1], date_captured='2017-01-01 00:00:00', flickr_url='', id=image_id)


def coco_image_ids(split, num):
    """Image ids: 1.. for train, 500001.. for val (disjoint, as in COCO)."""
    start = 1 if split == 'train' else 500001
    return range(start, start + num)


def coco_annotation(ann_id, image_id, category_id, segmentation, rle, iscrowd=0, **extra):
    """A COCO ``annotations`` entry; ``bbox`` and ``area`` are those of the drawn object's
    mask, given as the RLE ``rle``."""
    return dict(segmentation=segmentation, area=float(mask_utils.area(rle)), iscrowd=iscrowd,
                image_id=image_id, bbox=[float(v) for v in mask_utils.toBbox(rle)],
                category_id=category_id, id=ann_id, **extra)


def make_coco_det(out_dir, num_train=None, num_val=None, size=None, seed=0):
    """COCO detection layout, read by mmdet's ``CocoDataset``::

        {train,val}2017/<image_id:012d>.jpg
        annotations/instances_{train,val}2017.json

    1-4 non-overlapping objects of the ``COCO_DET_CATEGORIES`` per image over a grey
    background, each annotated with the polygon it was drawn from (``segmentation``), its box
    and area; annotation ids are ``image_id * 100 + k``.
    """
    num_train, num_val, size = _resolve('coco_det', num_train, num_val, size)
    h, w = size
    for split, num in (('train', num_train), ('val', num_val)):
        rng = _split_rng(seed, split)
        images, annotations = [], []
        for image_id in coco_image_ids(split, num):
            img = background(rng, size)
            taken = []
            for k in range(int(rng.integers(1, 5))):
                label = int(rng.integers(len(COCO_DET_CATEGORIES)))
                style = label + 1  # style 0 is the background
                radius = rng.uniform(0.1, 0.25) * min(h, w)
                extent = shape_extent(style, radius) + 1
                spot = free_spot(rng, 2 * extent, 2 * extent, w, h, taken)
                if spot is None:
                    continue
                polygon = shape_polygon(style, spot[0] + extent, spot[1] + extent, radius,
                                        rng.uniform(-0.5, 0.5))
                rle = polygon_rle(polygon, h, w)
                paint(img, mask_utils.decode(rle).astype(bool), style, rng)
                annotations.append(
                    coco_annotation(image_id * 100 + k, image_id,
                                    COCO_DET_CATEGORIES[label]['id'],
                                    [polygon.ravel().tolist()], rle))
            images.append(coco_image(image_id, size))
            write_jpg(osp.join(out_dir, f'{split}2017', images[-1]['file_name']),
                      finish(img, rng))
        write_json(osp.join(out_dir, 'annotations', f'instances_{split}2017.json'),
                   coco_json(images, annotations, COCO_DET_CATEGORIES))
    return out_dir


def figure_keypoints(rng, height):
    """(17, 2) COCO keypoints of a random front-facing stick figure ``height`` pixels tall,
    relative to the top centre of its head. The person's left is the image's right."""
    r = 0.075 * height  # head radius
    kpts = np.zeros((17, 2))
    head = np.array([0.0, r])
    kpts[KP['nose']] = head + (0, 0.25 * r)
    for side, sign in (('left', 1), ('right', -1)):
        kpts[KP[f'{side}_eye']] = head + (sign * 0.4 * r, -0.2 * r)
        kpts[KP[f'{side}_ear']] = head + (sign * 0.9 * r, 0.05 * r)
        shoulder = kpts[KP[f'{side}_shoulder']] = (sign * 0.13 * height, 0.2 * height)
        hip = kpts[KP[f'{side}_hip']] = (sign * 0.08 * height, 0.52 * height)
        for joint, root, lengths, bends in (
                (('elbow', 'wrist'), shoulder, (0.16, 0.15), ((-0.2, 1.6), (-0.3, 1.2))),
                (('knee', 'ankle'), hip, (0.24, 0.23), ((-0.1, 0.5), (-0.4, 0.1)))):
            angle, point = 0.0, np.asarray(root, np.float64)
            for name, length, bend in zip(joint, lengths, bends):
                angle += rng.uniform(*bend)  # away from straight down, outwards
                point = point + length * height * np.array([sign * np.sin(angle),
                                                            np.cos(angle)])
                kpts[KP[f'{side}_{name}']] = point
    lean = rng.uniform(-0.15, 0.15)  # rotate about the hips' centre
    c, s = np.cos(lean), np.sin(lean)
    pivot = np.array([0.0, 0.52 * height])
    return (kpts - pivot) @ np.array([[c, s], [-s, c]]) + pivot


FIGURE_PARTS = {  # style of each drawn part (BGR colours from CLASS_COLOURS)
    'left': 1, 'right': 2, 'torso': 3, 'head': 4, 'eye': 5, 'nose': 6, 'ear': 7}
LIMBS = {'left': (('left_shoulder', 'left_elbow'), ('left_elbow', 'left_wrist'),
                  ('left_hip', 'left_knee'), ('left_knee', 'left_ankle')),
         'right': (('right_shoulder', 'right_elbow'), ('right_elbow', 'right_wrist'),
                   ('right_hip', 'right_knee'), ('right_knee', 'right_ankle'))}


def draw_figure(canvas, kpts, height, colours):
    """Draw a stick figure with integer keypoints ``kpts`` (17, 2) on ``canvas``.

    ``colours`` maps each of ``FIGURE_PARTS`` to a colour (a scalar for a mask): limbs are
    thick lines, the torso a filled quadrilateral, the head a disc with eye, nose and ear dots
    drawn at their keypoints.
    """
    pt = {name: (int(x), int(y)) for name, (x, y) in zip(COCO_KEYPOINTS, kpts)}
    thick = max(2, round(0.055 * height))
    torso = np.array([pt['left_shoulder'], pt['right_shoulder'], pt['right_hip'],
                      pt['left_hip']], np.int32)
    cv2.fillPoly(canvas, [torso], colours['torso'])
    for side, limbs in LIMBS.items():
        for a, b in limbs:
            cv2.line(canvas, pt[a], pt[b], colours[side], thick)
    r = 0.075 * height
    head = np.mean([kpts[KP['left_ear']], kpts[KP['right_ear']]], axis=0)
    neck = np.mean([kpts[KP['left_shoulder']], kpts[KP['right_shoulder']]], axis=0)
    cv2.line(canvas, tuple(int(v) for v in neck), tuple(int(v) for v in head),
             colours['torso'], thick)
    cv2.circle(canvas, tuple(int(v) for v in head), max(1, round(r)), colours['head'], -1)
    dot = max(1, round(0.2 * r))
    for part, names in (('eye', ('left_eye', 'right_eye')), ('nose', ('nose', )),
                        ('ear', ('left_ear', 'right_ear'))):
        for name in names:
            cv2.circle(canvas, pt[name], dot, colours[part], -1)


def place_figures(rng, img, taken, heights, overlap=0.0, bottom_overflow=0.0):
    """Draw stick figures of the given heights side by side at a free spot of ``img``.

    Consecutive figures overlap by ``overlap`` of their width (a crowd); the group may hang
    ``bottom_overflow`` of its height below the image. Returns [(keypoints (17, 2) int, mask)]
    per figure, or [] where there was no free spot.
    """
    h, w = img.shape[:2]
    poses, boxes = [], []
    x = 0.0
    for height in heights:
        kpts = figure_keypoints(rng, height)
        pad = 0.075 * height + 0.03 * height + 1  # head radius or half a limb, plus a pixel
        lo, hi = kpts.min(0) - pad, kpts.max(0) + pad
        poses.append((kpts, height))
        boxes.append((x - lo[0], lo, hi))
        x += (hi[0] - lo[0]) * (1 - overlap)
    group_w = boxes[-1][0] + boxes[-1][2][0]
    group_h = max(hi[1] - lo[1] for _, lo, hi in boxes)
    spot = free_spot(rng, group_w, group_h, w, h + bottom_overflow * group_h, taken)
    if spot is None:
        return []
    drawn = []
    colours = {part: style_colour(style) + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, 3)
               for part, style in FIGURE_PARTS.items()}
    for (kpts, height), (shift, lo, _) in zip(poses, boxes):
        kpts = np.round(kpts + (spot[0] + shift, spot[1] - lo[1])).astype(int)
        mask = np.zeros((h, w), np.uint8)
        draw_figure(mask, kpts, height, dict.fromkeys(FIGURE_PARTS, 1))
        draw_figure(img, kpts, height, {k: v.tolist() for k, v in colours.items()})
        drawn.append((kpts, mask.astype(bool)))
    return drawn


def mask_polygons(mask):
    """COCO polygons (lists of x, y) of the outer contours of a boolean mask."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def uncompressed_rle(mask):
    """COCO's uncompressed RLE (as in the real crowd annotations) of a boolean mask."""
    flat = mask.ravel(order='F').astype(np.uint8)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    if flat[0]:
        counts = [0] + counts
    return dict(counts=counts, size=list(mask.shape))


def make_coco_pose(out_dir, num_train=None, num_val=None, size=None, seed=0):
    """COCO keypoints layout, read by mmpose's ``CocoDataset``::

        {train,val}2017/<image_id:012d>.jpg
        annotations/person_keypoints_{train,val}2017.json
        annotations/instances_{train,val}2017.json   the same person boxes, no keypoints

    Each image has 1-3 stick figures whose 17 keypoints are the drawn joints (v=2; v=0 and
    (0, 0) for joints below the image), annotated with the outline polygons of the drawn
    figure and the box and area of its pixels. As in the real files, every other image also
    has a small person with ``num_keypoints=0`` (all-zero keypoints) and every fourth image a
    crowd (``iscrowd=1``, uncompressed RLE) of overlapping small figures. Annotation ids are
    ``image_id * 100 + k``.
    """
    num_train, num_val, size = _resolve('coco_pose', num_train, num_val, size)
    h, w = size
    category = dict(COCO_PERSON, keypoints=list(COCO_KEYPOINTS), skeleton=COCO_SKELETON)
    for split, num in (('train', num_train), ('val', num_val)):
        rng = _split_rng(seed, split)
        images, annotations = [], []
        for i, image_id in enumerate(coco_image_ids(split, num)):
            img = background(rng, size)
            taken = []
            people = []  # (keypoints or None, mask, iscrowd)
            heights = rng.uniform(0.45, 0.85, int(rng.integers(1, 4))) * h
            for j, height in enumerate(heights):
                for kpts, mask in place_figures(rng, img, taken, [height], bottom_overflow=0.2):
                    people.append((kpts, mask, 0))
                if j > 0:
                    continue
                # the small ones right after the first person, while there is room
                if i % 4 == 0:
                    crowd_heights = rng.uniform(0.15, 0.22, int(rng.integers(3, 6))) * h
                    crowd = place_figures(rng, img, taken, crowd_heights, overlap=0.45)
                    if crowd:
                        people.append((None, np.any([m for _, m in crowd], axis=0), 1))
                if i % 2 == 0:
                    for _, mask in place_figures(rng, img, taken, [rng.uniform(0.14, 0.2) * h]):
                        people.append((None, mask, 0))
            for k, (kpts, mask, iscrowd) in enumerate(people):
                keypoints = np.zeros((17, 3), int)
                if kpts is not None:
                    inside = (kpts[:, 0] >= 0) & (kpts[:, 0] < w) & (kpts[:, 1] >= 0) & (
                        kpts[:, 1] < h)
                    keypoints[inside] = np.concatenate([kpts, np.full((17, 1), 2)], 1)[inside]
                segmentation = uncompressed_rle(mask) if iscrowd else mask_polygons(mask)
                rle = mask_utils.encode(np.asfortranarray(mask, np.uint8))
                annotations.append(
                    coco_annotation(image_id * 100 + k, image_id, COCO_PERSON['id'],
                                    segmentation, rle, iscrowd=iscrowd,
                                    num_keypoints=int((keypoints[:, 2] > 0).sum()),
                                    keypoints=keypoints.ravel().tolist()))
            images.append(coco_image(image_id, size))
            write_jpg(osp.join(out_dir, f'{split}2017', images[-1]['file_name']),
                      finish(img, rng))
        write_json(osp.join(out_dir, 'annotations', f'person_keypoints_{split}2017.json'),
                   coco_json(images, annotations, [category]))
        boxes = [{k: v for k, v in a.items() if k not in ('keypoints', 'num_keypoints')}
                 for a in annotations]
        write_json(osp.join(out_dir, 'annotations', f'instances_{split}2017.json'),
                   coco_json(images, boxes, [COCO_PERSON]))
    return out_dir


# --------------------------------------------------------------------------------- ImageNet
def make_imagenet(out_dir, num_train=None, num_val=None, size=None, seed=0):
    """ImageNet (ILSVRC-2012) layout with the val images in class folders::

        train/<wnid>/<wnid>_<n>.JPEG
        val/<wnid>/ILSVRC2012_val_<n:08d>.JPEG
        meta/train.txt   lines '<wnid>/<wnid>_<n>.JPEG <label>' (relative to train/)
        meta/val.txt     lines '<wnid>/ILSVRC2012_val_<n:08d>.JPEG <label>' (relative to val/)

    as mmpretrain's ``ImageNet(data_root=OUT, ann_file='meta/train.txt',
    data_prefix='train')`` reads them. Classes are ``IMAGENET_WNIDS`` (labels 0..9, the real
    ILSVRC indices); image ``i`` of a split has label ``i % 10`` and shows one object of its
    class's style over a grey background.
    """
    num_train, num_val, size = _resolve('imagenet', num_train, num_val, size)
    h, w = size
    num_classes = len(IMAGENET_WNIDS)
    for split, num in (('train', num_train), ('val', num_val)):
        rng = _split_rng(seed, split)
        lines = []
        for i in range(num):
            label = i % num_classes
            wnid = IMAGENET_WNIDS[label]
            name = (f'{wnid}_{i // num_classes + 1}.JPEG' if split == 'train' else
                    f'ILSVRC2012_val_{i + 1:08d}.JPEG')
            img = background(rng, size)
            style = label + 1
            radius = rng.uniform(0.22, 0.35) * min(h, w)
            polygon = shape_polygon(style, w / 2 + rng.uniform(-0.15, 0.15) * w,
                                    h / 2 + rng.uniform(-0.15, 0.15) * h, radius,
                                    rng.uniform(-0.5, 0.5))
            paint(img, polygon_mask(polygon, h, w), style, rng)
            write_jpg(osp.join(out_dir, split, wnid, name), finish(img, rng))
            lines.append(f'{wnid}/{name} {label}')
        write_lines(osp.join(out_dir, 'meta', f'{split}.txt'), lines)
    return out_dir


# --------------------------------------------------------------------------------- CIFAR-100
class Py2Pickler(pickle._Pickler):
    """Protocol-2 pickler that writes ``bytes`` as Python 2 ``str`` (``SHORT_BINSTRING`` /
    ``BINSTRING``) and numpy's ``numpy._core`` as ``numpy.core``, as the CIFAR release's
    pickles (written by Python 2) hold them. So they load like the real files: with
    ``encoding='bytes'`` (bytes keys) and with ``encoding='latin1'`` (str keys, as
    torchvision and mmpretrain read them), in numpy 1 and 2."""
    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file):
        super().__init__(file, protocol=2)

    def save_py2_str(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + n.to_bytes(4, 'little') + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        module = getattr(obj, '__module__', None) or ''
        if not module.startswith('numpy._core'):
            return super().save_global(obj, name)
        name = name or obj.__qualname__
        module = 'numpy.core' + module[len('numpy._core'):]
        self.write(pickle.GLOBAL + f'{module}\n{name}\n'.encode())
        self.memoize(obj)


def write_py2_pickle(path, obj):
    """Pickle ``obj`` with :class:`Py2Pickler` (dict keys and names given as bytes)."""
    _makedirs_for(path)
    with open(path, 'wb') as f:
        Py2Pickler(f).dump(obj)


def file_md5(path) -> str:
    """The md5 hex digest of a file (what mmpretrain's ``check_md5`` compares)."""
    md5 = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            md5.update(chunk)
    return md5.hexdigest()


def make_cifar100(out_dir, num_train=None, num_val=None, size=None, seed=0):
    """CIFAR-100 python release (``cifar-100-python.tar.gz``), in the layout mmpretrain's (and
    torchvision's) ``CIFAR100`` read::

        cifar-100-python/train   {b'filenames', b'batch_label', b'fine_labels',
                                  b'coarse_labels', b'data': (N, 3072) uint8}
        cifar-100-python/test    the same; ``num_val`` images
        cifar-100-python/meta    {b'fine_label_names': 100 names, b'coarse_label_names': 20}
        cifar-100-python.synthetic.json   the md5 sums of the three (``CIFAR100_MANIFEST``)

    pickled as Python 2 wrote them (:class:`Py2Pickler`). The stock ``CIFAR100`` refuses these
    pickles (their md5 sums are not the release's); ``mcl_mm.SyntheticCIFAR100`` reads them,
    checking the manifest's sums instead. A row of ``data`` is the R, G and B
    planes (1024 values each) of a 32x32 image. Image ``i`` has fine label
    ``CIFAR100_USED_LABELS[i % 10]`` (ten classes spread over 0..99, with their real coarse
    labels) and shows one object of style ``i % 10 + 1`` over a grey background, as
    ``make_imagenet`` draws them. ``size`` must be 32x32, the format's.
    """
    num_train, num_val, size = _resolve('cifar100', num_train, num_val, size)
    if size != (32, 32):
        raise ValueError(f'CIFAR-100 images are 32x32, got size={size}')
    h, w = size
    folder = osp.join(out_dir, CIFAR100_BASE_FOLDER)
    for split, num, batch in (('train', num_train, b'training batch 1 of 1'),
                              ('test', num_val, b'testing batch 1 of 1')):
        rng = _split_rng(seed, split)
        data = np.zeros((num, 3 * h * w), np.uint8)
        fine, names = [], []
        for i in range(num):
            k = i % len(CIFAR100_USED_LABELS)
            label = CIFAR100_USED_LABELS[k]
            img = background(rng, size)
            style = k + 1
            radius = rng.uniform(0.22, 0.35) * min(h, w)
            polygon = shape_polygon(style, w / 2 + rng.uniform(-0.15, 0.15) * w,
                                    h / 2 + rng.uniform(-0.15, 0.15) * h, radius,
                                    rng.uniform(-0.5, 0.5))
            paint(img, polygon_mask(polygon, h, w), style, rng)
            rgb = finish(img, rng)[..., ::-1]  # BGR -> RGB
            data[i] = rgb.transpose(2, 0, 1).reshape(-1)
            fine.append(label)
            names.append(f'{CIFAR100_CLASSES[label]}_s_{i + 1:06d}.png'.encode())
        write_py2_pickle(osp.join(folder, split), {
            b'filenames': names,
            b'batch_label': batch,
            b'fine_labels': fine,
            b'coarse_labels': [CIFAR100_FINE_TO_COARSE[label] for label in fine],
            b'data': data,
        })
    write_py2_pickle(osp.join(folder, 'meta'), {
        b'fine_label_names': [n.encode() for n in CIFAR100_CLASSES],
        b'coarse_label_names': [n.encode() for n in CIFAR100_COARSE_CLASSES],
    })
    write_json(osp.join(out_dir, CIFAR100_MANIFEST), dict(
        format='cifar-100-python', folder=CIFAR100_BASE_FOLDER,
        md5={name: file_md5(osp.join(folder, name)) for name in CIFAR100_FILES}))
    return out_dir


FORMATS = {
    'cityscapes': make_cityscapes,
    'voc': make_voc,
    'camvid': make_camvid,
    'coco_det': make_coco_det,
    'coco_pose': make_coco_pose,
    'imagenet': make_imagenet,
    'cifar100': make_cifar100,
}
