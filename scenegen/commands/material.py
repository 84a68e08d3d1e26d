"""``scenegen material``: a seamless PBR texture set from a class or a photo, cached by content.

Writes ``NAME_basecolor.png``, ``_normal``, ``_roughness``, ``_height`` (16-bit), ``_ao``, ``_orm`` and
``_preview`` (lit sphere + 2×2 tiled swatch) into ``--out``. Every input is checked before any work
(size, class, photo, names); a request already made (same model, inputs and parameters) is served
from the content-addressed cache (``$SCENEGEN_CACHE`` or ``./.cache``), byte-identical.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..errors import ScenegenError, cut
from . import Progress, emit_json, say

CONVENTIONS = ("opengl", "directx")
DECODE_SHARE = 0.8  # fraction of the progress bar the decode takes; writing the files the rest


def _texture_model(model_dir: Path):  # -> scenegen.model.directory.ModelInfo
    """The verified texture model directory (every file checked against its SHA-256), without torch:
    its classes, and the identity that cache keys hold."""
    from ..model.directory import inspect

    return inspect(model_dir, "texture", what="texture model")


def _plan(args: argparse.Namespace, classes: tuple[str, ...]) -> list[tuple[str, int]]:
    """(name, seed) of every material requested."""
    from ..api import check_grain
    from ..limits import MAX_VARIATIONS
    from ..material_files import safe_name

    if not 1 <= args.variations <= MAX_VARIATIONS:
        raise ScenegenError(f"--variations must be from 1 to {MAX_VARIATIONS:,}, got {args.variations}")
    if args.seed < 0:
        raise ScenegenError(f"--seed must be >= 0, got {args.seed}")
    check_grain(args.grain, "--grain")
    if not 0.125 <= args.scale <= 4.0:
        raise ScenegenError(f"--scale must be a number from 0.125 to 4, got {args.scale:g}")
    if args.scale != 1.0 and args.photo is None:
        raise ScenegenError("--scale applies to --from-image only")
    if args.cls is not None and args.cls not in classes:
        raise ScenegenError(f"unknown class '{cut(args.cls)}'; this model knows: {', '.join(classes)}")
    base = args.name or (args.cls if args.cls is not None else safe_name(Path(args.photo).stem))
    seeds = range(args.seed, args.seed + args.variations)
    if args.name and args.variations == 1:
        return [(args.name, args.seed)]
    return [(f"{base}_{seed}", seed) for seed in seeds]


def _check_photo(path: str):  # -> np.ndarray
    from ..imaging import load_image

    image = load_image(path)  # a ScenegenError naming the file when it cannot be read
    if min(image.shape[:2]) < 64:
        raise ScenegenError(f"{path}: photo is {image.shape[1]}×{image.shape[0]} px; need at least 64 px on the shorter side")
    return image


class _Bar:
    """Progress of one material in percent (stderr): a tqdm bar on a terminal, plain lines elsewhere
    (:class:`scenegen.commands.Progress`: only for work lasting over two seconds)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self._bar = Progress(label, 100, unit="%", quiet=quiet)

    def to(self, fraction: float) -> None:
        self._bar.to(int(round(100 * min(max(fraction, 0.0), 1.0))))

    def close(self) -> None:
        self._bar.close()


def _generate(args: argparse.Namespace, model: Any, seed: int, photo: Any, bar: _Bar):  # -> Material
    from ..api import generate_material, material_from_image

    def decoded(fraction: float) -> None:
        bar.to(DECODE_SHARE * 0.9 * fraction)

    if photo is None:
        material = generate_material(args.cls, seed, args.size, model=model, grain=args.grain, progress=decoded)
    else:
        try:
            material = material_from_image(photo, args.size, seed, model=model, grain=args.grain, scale=args.scale,
                                           progress=decoded)
        except ScenegenError as exc:
            raise ScenegenError(f"{args.photo}: {exc}") from None
    bar.to(DECODE_SHARE)
    return material


def _make_one(args, name: str, seed: int, photo: Any, state: dict[str, Any], req: Any) -> dict[str, Any]:
    """Serve one material from the cache or generate, store and copy it; returns its report."""
    from ..api import load_model
    from ..material_files import serve_material

    started = time.perf_counter()
    bar: list[_Bar] = []
    count = 6 + (0 if args.no_preview else 1)

    def make():  # -> Material; only on a cache miss
        if state.get("model") is None:
            state["model"] = load_model(state["model_dir"])
        bar.append(_Bar(name, args.quiet))
        return _generate(args, state["model"], seed, photo, bar[0])

    def saved(_key: str) -> None:
        state["written"] = state.get("written", 0) + 1
        bar[0].to(DECODE_SHARE + (1.0 - DECODE_SHARE) * state["written"] / count)

    state["written"] = 0
    try:
        paths, _params, hit = serve_material(state["reuse"], req, name, Path(args.out), state["layout"], make,
                                             progress=saved)
    except OSError as exc:
        raise ScenegenError(f"{args.out}: cannot write the material ({exc.strerror or exc})") from None
    finally:
        if bar:
            bar[0].close()
    return {"name": name, "seed": seed, "cached": hit, "seconds": time.perf_counter() - started,
            "files": {k: str(p) for k, p in paths.items()}}


def run(args: argparse.Namespace) -> int:
    from ..api import check_size, default_model_dir

    model_dir = Path(args.model) if args.model else default_model_dir()
    if args.list:
        classes = _texture_model(model_dir).classes
        if args.json:
            emit_json({"command": "material", "classes": list(classes)})
        else:
            print("\n".join(classes))
        return 0
    from ..material_files import MATERIALS_NAMESPACE, SetLayout, material_paths, material_request
    from ..reuse import Reuse

    size = check_size(args.size, "--size")
    if (args.cls is None) == (args.photo is None):
        raise ScenegenError("give a material CLASS (see --list) or --from-image PHOTO" if args.cls is None
                            else "give either a CLASS or --from-image PHOTO, not both")
    photo = _check_photo(args.photo) if args.photo else None
    if not model_dir.exists():
        raise ScenegenError(f"{model_dir}: model directory not found")
    info = _texture_model(model_dir)  # verified: a tampered model is refused before the cache is read
    plan = _plan(args, info.classes)
    for name, _seed in plan:
        material_paths(name, args.out)  # refuses bad names before any work
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenegenError(f"{args.out}: cannot create the output folder ({exc.strerror or exc})") from None

    layout = SetLayout(normal_convention=args.normal_convention, preview=not args.no_preview)
    state: dict[str, Any] = {"model_dir": model_dir, "layout": layout,
                             "reuse": Reuse(MATERIALS_NAMESPACE, enabled=not args.no_cache, warn=say)}
    reports = []
    for name, seed in plan:
        req = material_request(source="photo" if photo is not None else "class", cls=args.cls, seed=seed, size=size,
                               layout=layout, model_identity=info.identity, grain=args.grain,
                               scale=args.scale if photo is not None else None,
                               photo=args.photo if photo is not None else None)
        report = _make_one(args, name, seed, photo, state, req)
        reports.append(report)
        if not args.json:
            how = "cached" if report["cached"] else f"generated in {report['seconds']:.2f} s"
            print(f"{name}: {len(report['files'])} files in {args.out} ({how})")
    if args.json:
        emit_json({"command": "material", "out": str(args.out), "size": size, "model_hash": info.model_hash,
                   "materials": reports})
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "material",
        help="a seamless PBR texture set from a class or a photo",
        description="Write NAME_basecolor/normal/roughness/height(16-bit)/ao/orm/preview.png: a tileable PBR set "
        "of a class (see --list) or with the look of a photo. Repeated requests come from the cache.",
    )
    p.add_argument("cls", nargs="?", metavar="CLASS", help="material class of the model (see --list)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same files")
    p.add_argument("--size", type=int, default=512, help="N: an N×N set (32–8192; default 512)")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--name", default=None, help="file name prefix (default CLASS_SEED or PHOTOSTEM_SEED)")
    p.add_argument("--from-image", dest="photo", metavar="PHOTO", default=None,
                   help="make a new seamless material with the look of this photo (need not tile)")
    p.add_argument("--grain", type=float, default=0.0,
                   help="strength of fitted grain noise added on top of the decode (0 = none, the default; 1 = as fitted)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="with --from-image: texel scale relative to the photo (1 = the photo's own, the default; "
                        "0.5 = features half as large)")
    p.add_argument("--variations", type=int, default=1, help="N materials with seeds SEED…SEED+N-1")
    p.add_argument("--list", action="store_true", help="print the model's classes and exit")
    p.add_argument("--normal-convention", choices=CONVENTIONS, default="opengl",
                   help="opengl (+Y up: glTF, Godot, Blender, Unity) or directx (green flipped: Unreal)")
    p.add_argument("--model", default=None, help="model directory (default: $SCENEGEN_MODEL or the shipped model)")
    p.add_argument("--preview", dest="no_preview", action="store_false", default=False,
                   help="write NAME_preview.png, a lit sphere + 2×2 swatch (the default; ~0.1 s at 512², no OpenGL)")
    p.add_argument("--no-preview", dest="no_preview", action="store_true", default=False,
                   help="skip NAME_preview.png")
    p.add_argument("--no-cache", action="store_true", help="always generate; neither read nor write the cache")
    p.add_argument("--json", action="store_true", help="print one JSON object describing what was written")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (errors and warnings stay)")
    p.set_defaults(handler=run)
