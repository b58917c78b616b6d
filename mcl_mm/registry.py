"""mcl_mm's registry nodes, each a child of MMEngine's root registry.

mcl_mm serves MMSegmentation, MMDetection and MMPose at once, so its nodes hang under
MMEngine's roots (not under one toolbox's). Configs keep the task toolbox's scope
(``default_scope='mmseg'``, ``'mmdet'`` or ``'mmpose'``), add
``custom_imports=dict(imports=['mcl_mm'])`` and name mcl_mm components with the scope
prefix, e.g. ``type='mcl_mm.ModelGroup'``; stock components nested inside them
(``type='EncoderDecoder'``) still resolve in the toolbox's scope, because building
switches to the default scope's registry first. ``locations=`` lets MMEngine import the
module that registers a name on first use.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mcl_mm.engine.hooks'])
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, locations=['mcl_mm.engine.runner'])

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['mcl_mm.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['mcl_mm.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['mcl_mm.datasets.transforms'])

MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['mcl_mm.models'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, locations=['mcl_mm.engine.optim_wrapper'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mcl_mm.engine.partwise_optim_constructor'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['mcl_mm.engine.cpu_sync_bn'])

METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['mcl_mm.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, locations=['mcl_mm.visualization'])
