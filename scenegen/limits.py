"""Size limits of what the generators accept, in pixels (ground floor: no imports).

One place for them, so that the API (:func:`scenegen.api.check_size`), the sprite generator
(:func:`scenegen.sprite_gen.check_sprite_size`), ``model_info`` and the library spec
(:mod:`scenegen.export.library`) cannot disagree.
"""

MIN_SIZE = 32  # textures and materials: each side
MAX_SIZE = 8192
MIN_SPRITE_SIZE = 64  # sprites: square
MAX_SPRITE_SIZE = 512
