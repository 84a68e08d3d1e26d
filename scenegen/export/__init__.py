"""Batch export of material and sprite libraries for game engines (``scenegen export``).

* :mod:`.library`: the ``library.json`` spec and its expansion into work items;
* :mod:`.targets`, :mod:`.sprite_files`: the files of one item, per engine (a material set through
  :mod:`scenegen.material_files`, every GLB through :mod:`scenegen.glb`);
* :mod:`.build`: a worker turning an item into bytes; :mod:`.executors`: in-process, process pool, Ray;
* :mod:`.manifest`: SHA-256 manifest, resume and ``--verify``; :mod:`.run`: the whole export.
"""

from .library import library_json_schema, load_library
from .manifest import verify_export
from .run import export_library

__all__ = ["export_library", "library_json_schema", "load_library", "verify_export"]
