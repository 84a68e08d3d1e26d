"""The model layer: a small convolutional VAE, its training, weights and latent prior.

Knows nothing of scenes, users' files or Blender: it takes and returns tensors and numpy arrays.
"""
