"""Scenes: scene.json → materials and sprites → one composed scene → a rendered image and a GLB.

Modules, in the order data flows through them:

* :mod:`.spec` (pydantic models = the JSON Schema), :mod:`.locate` (file:line:col + JSON path messages),
  :mod:`.loader` (validation, names, files inside the scene folder);
* :mod:`.assets` (materials and sprite atlases, generated once and cached);
* :mod:`.shapes`, :mod:`.terrain`, :mod:`.paths`, :mod:`.uv`, :mod:`.scatter` → :mod:`.compose`
  (builds a :class:`.composed.ComposedScene`);
* :mod:`.render` (pyrender + our shaders in ``shaders/``) and :mod:`.gltf` (GLB writer);
* :mod:`.build` (the staged pipeline behind ``scenegen build``).
"""
