"""scenegen: seamless PBR materials, billboard sprites and composed scenes from a small VAE."""

__version__ = "0.7.0"
