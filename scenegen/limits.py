"""Size and count limits of what scenegen accepts (ground floor: no imports).

One place for them, so that the API (:func:`scenegen.api.check_size`), the sprite generator
(:func:`scenegen.sprite_gen.check_sprite_size`), ``model_info`` and the library spec
(:mod:`scenegen.export.library`) cannot disagree.
"""

MIN_SIZE = 32  # textures and materials: each side
MAX_SIZE = 8192
MIN_SPRITE_SIZE = 64  # sprites: square
MAX_SPRITE_SIZE = 512

# Images a user gives (photos, heightmaps, masks, training images): the size their header declares is checked
# against this before any pixel is decoded (a 64-megapixel photo decodes to < 1 GB of float32 RGB).
MAX_IMAGE_PIXELS = 8192 * 8192
# Batches that are expanded into lists of work before any of it starts.
MAX_VARIATIONS = 10_000  # `material --variations`
MAX_SPRITE_COUNT = 4096  # `sprite --count` (and never more than SPRITE_MEMORY_BYTES of sprites in memory)
SPRITE_MEMORY_BYTES = 2 << 30  # float32 RGBA sprites held at once by `sprite` (count × size² × 16 bytes)
MAX_GALLERY_SEEDS = 64
WORKER_MEMORY_BYTES = 1 << 30  # what one export worker process may need (model, torch, a 2048² set)


def max_workers() -> int:
    """How many export workers this machine holds: at most twice the cores, and what fits in memory."""
    import os

    cores = os.cpu_count() or 1
    limit = 2 * cores
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        limit = min(limit, max(1, available // WORKER_MEMORY_BYTES))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not every OS reports it
        pass
    return max(1, limit)
