"""Scenes: a scene spec plus its finished assets → one composed scene → a rendered image and a GLB.

This package never generates anything: it imports no model, no torch, no :mod:`scenegen.api` or
:mod:`scenegen.sprite_gen` (tests/test_layers.py checks it). Materials and sprite sets come in finished
(PNG bytes and 8-bit sprites, :class:`.composed.SceneAssets`), resolved by :mod:`scenegen.build`.

Modules, in the order data flows through them:

* :mod:`.spec` (pydantic models = the JSON Schema), :mod:`.locate` (file:line:col + JSON path messages),
  :mod:`.loader` (validation, names, files inside the scene folder, the names a scene uses);
* :mod:`.shapes`, :mod:`.terrain`, :mod:`.paths`, :mod:`.uv`, :mod:`.scatter` → :mod:`.compose`
  (builds a :class:`.composed.ComposedScene` from the spec and a :class:`.composed.SceneAssets`);
* :mod:`.render` (pyrender + our shaders in ``shaders/``) and :mod:`.gltf` (GLB writer).
"""
