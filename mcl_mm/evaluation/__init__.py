from .member_metric import MemberMetric  # noqa: F401
from .puzzle_accuracy import PuzzleAccuracy  # noqa: F401
