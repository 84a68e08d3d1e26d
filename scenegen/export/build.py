"""Worker side of an export: turn one work item into ``{relative path: bytes}`` (nothing touches the disk here).

A :class:`WorkerContext` holds the loaded models (each loaded once, on first use) and the target. Models come
either as a directory on this machine or as the files' bytes (how Ray ships them to other nodes); both are
verified against their recorded SHA-256 on load.

Determinism: an item's bytes depend only on its params, the model weights and the target. oneDNN's
convolutions give slightly different floats for different torch thread counts, so :func:`pin_threads` fixes
torch (and OpenCV) to **one thread per item** in every executor; parallelism comes from running items side by
side, which also makes the best use of the cores (no oversubscription).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from ..errors import ScenegenError
from .library import WorkItem
from .targets import get_target, material_files

ModelSource = Union[str, dict[str, bytes], None]  # a directory, the files' bytes, or None (not needed)
MODEL_FILES = ("config.json", "model.safetensors", "prior.safetensors")
THREADS_PER_ITEM = 1


@dataclass
class ItemResult:
    """What a worker sends back for one item: its files' bytes (or an error) and the model hash it used."""

    name: str
    kind: str
    files: dict[str, bytes] = field(default_factory=dict)
    model_hash: Optional[str] = None
    seconds: float = 0.0
    error: Optional[str] = None


def pin_threads() -> None:
    """One torch / OpenCV thread in this process (see the module docstring)."""
    import cv2
    import torch

    torch.set_num_threads(THREADS_PER_ITEM)
    cv2.setNumThreads(THREADS_PER_ITEM)


def model_bytes(directory: str | os.PathLike[str]) -> dict[str, bytes]:
    """The files of a model directory, to ship to workers that cannot see this disk."""
    root = Path(directory)
    try:
        return {name: (root / name).read_bytes() for name in MODEL_FILES}
    except OSError as exc:
        raise ScenegenError(f"{root}: cannot read the model files ({exc.__class__.__name__}: {exc})") from None


class WorkerContext:
    """Models (loaded lazily, once) and the target of one worker process or actor."""

    def __init__(self, target: str, texture_model: ModelSource, sprite_model: ModelSource = None) -> None:
        self.target = get_target(target)
        self._sources = {"texture": texture_model, "sprites": sprite_model}
        self._models: dict[str, Any] = {}
        self._tmp: list[tempfile.TemporaryDirectory] = []

    def model(self, kind: str):  # -> scenegen.model.weights.LoadedModel
        if kind not in self._models:
            from .. import api

            source = self._sources[kind]
            if source is None:
                raise ScenegenError(f"no {kind} model was given to the export workers")
            if isinstance(source, dict):
                folder = tempfile.TemporaryDirectory(prefix=f"scenegen-{kind}-model-")
                self._tmp.append(folder)
                for name, blob in source.items():
                    Path(folder.name, name).write_bytes(blob)
                source = folder.name
            self._models[kind] = api.load_model(source)
        return self._models[kind]

    def build(self, item: WorkItem) -> ItemResult:
        """Build one item; errors come back in the result (one line), never as an exception."""
        started = time.perf_counter()
        result = ItemResult(item.name, item.kind)
        try:
            if item.kind == "material":
                result.files, result.model_hash = self._material(item)
            else:
                result.files, result.model_hash = self._sprites(item)
        except ScenegenError as exc:
            result.error = str(exc)
        except Exception as exc:  # a bug or a resource problem: keep the other items going
            last = traceback.extract_tb(exc.__traceback__)[-1]
            result.error = f"{exc.__class__.__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})"
        result.seconds = time.perf_counter() - started
        return result

    def _material(self, item: WorkItem) -> tuple[dict[str, bytes], str]:
        from .. import api
        from ..imaging import load_image

        model = self.model("texture")
        p = item.params
        options = {key: p[key] for key in ("normal_strength", "ao_strength", "metallic")}
        options["roughness_range"] = tuple(p["roughness_range"])
        if "class" in p:
            material = api.generate_material(p["class"], p["seed"], p["size"], model=model, name=item.name, **options)
        else:
            if item.photo is None:
                raise ScenegenError(f"{item.where}: the photo's bytes did not reach the worker")
            photo = load_image(io.BytesIO(item.photo))
            material = api.material_from_image(photo, p["size"], p["seed"], model=model, name=item.name, **options)
        files = material_files(material, item.name, p["tile_size_m"], self.target)
        return {f"materials/{item.name}/{file}": blob for file, blob in files.items()}, model.model_hash

    def _sprites(self, item: WorkItem) -> tuple[dict[str, bytes], str]:
        from ..sprite_gen import generate_sprites
        from .sprite_files import sprite_set_files

        model = self.model("sprites")
        p = item.params
        sprites = generate_sprites(p["class"], p["seed"], p["count"], p["size"], model=model)
        files = sprite_set_files(list(sprites), item.name, height_m=p["height_m"], kind=p["billboard"],
                                 alpha_cutoff=p["alpha_cutoff"], target=self.target)
        return {f"sprites/{item.name}/{file}": blob for file, blob in files.items()}, model.model_hash
