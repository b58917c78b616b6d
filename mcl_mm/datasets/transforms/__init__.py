from .jigsaw import JigsawShuffle  # noqa: F401
