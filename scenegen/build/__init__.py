"""Scene builds, above the API: a scene spec's materials and sprites resolved to finished assets through
one cached asset service (:mod:`.assets`, generating through :mod:`scenegen.api` and
:mod:`scenegen.sprite_gen`, reusing work through :mod:`scenegen.cache`), then composed, rendered and
written as a GLB by :mod:`scenegen.scene` (:mod:`.pipeline`, behind ``scenegen build`` and the worker).
"""

from ..scene.loader import used_names
from .assets import AssetStore, model_ref
from .pipeline import CACHE_NAMESPACE, BuildOptions, BuildResult, build_scene, model_refs, validate_scene

__all__ = ["AssetStore", "BuildOptions", "BuildResult", "CACHE_NAMESPACE", "build_scene", "model_ref",
           "model_refs", "used_names", "validate_scene"]
