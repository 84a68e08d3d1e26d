"""Material generation: speed, memory and tileability (the figures of docs/METRICS.md).

* material_s@512, material_s@2048: median of ``--runs`` warm runs of ``api.generate_material`` (all maps, in
  memory, model loaded), with the thread and core counts.
* decode_efficiency = (decoder FLOPs of one 512² material / material_s@512) / (FLOP/s of a 2048³ float32
  torch.matmul, median of 5, same threads). Decoder FLOPs from torch.utils.flop_counter.FlopCounterMode: those the
  generator's tiled decode executes (halos included; decoder_gflop_whole@512: one whole-canvas decode's, the
  useful work); decode_s@512 and decoder_only_efficiency: decode_canvas alone, as the generator runs it.
* peak_rss_gb at ``--big``² (default 8192): a fresh process per class and seed (ru_maxrss), after generating
  the set in memory and, for seed 0, again after writing its PNGs (preview included), as ``scenegen material`` does.
* seam_ratio of every map (basecolor, normal, roughness, height, ao) of every class at 512², 2048², big²
  (mean over SEEDS materials, --big-seeds at big²), beside interior_ratio: the same statistic at a random interior row and column
  instead of the wrap-around edge (what an ordinary place measures; one row of a structured map such as brick
  AO is a noisy sample, hence several seeds per size); tile_seam_ratio: steps across the decoder's internal
  tile boundaries over those across other latent-cell boundaries (1.0 = invisible; mean over seeds, worst map),
  and at 2048² the largest
  difference between the tiled decode and a whole-canvas decode.
* --from-image: scikit-image's brick/grass/gravel photos (not tileable) → seam_ratio of every map at 512² and
  2048², and gram_dist of 128² crops of the result to 128² crops of the photo (at the photo's own pixel scale) beside the real-vs-real and blurred-vs-real references.

Prints a table and one JSON line. Usage:
    python benchmarks/generate.py [--model DIR] [--runs 5] [--big 8192] [--big-classes 2|all|a,b] [--big-seeds 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from scenegen import api, metrics
from scenegen.material_files import save_material
from scenegen.model.sample import TILE_CELLS, cell_phase, condition_weights, decode, decode_canvas, latent_cells, sample_texture_latent

MAPS = ("basecolor", "normal", "roughness", "height", "ao")
SEEDS = {512: 16, 2048: 4}  # materials per class averaged for the seam figures (--big-seeds at the largest size)
PHOTOS = ("brick", "grass", "gravel")
TARGETS = {"material_s@512": 0.5, "material_s@2048": 8.0, "peak_rss_gb": 4.0, "seam_ratio": 1.05}


# ------------------------------------------------------------------------------------------ figures


def _boundary_steps(arr: np.ndarray, xs, ys) -> tuple[float, int]:
    """Sum and count of |I[:, x] − I[:, x−1]| for x in xs and |I[y] − I[y−1]| for y in ys (y, x may be 0: wrap)."""
    total, count = 0.0, 0
    for x in xs:
        total += float(np.abs(arr[:, x].astype(np.float64) - arr[:, x - 1]).sum())
        count += arr[:, x].size
    for y in ys:
        total += float(np.abs(arr[y].astype(np.float64) - arr[y - 1]).sum())
        count += arr[y].size
    return total, count


def tile_seam_ratio(img: np.ndarray, tile_px: int, cell: int, phase: tuple[int, int]) -> float | None:
    """Mean step across the decoder's internal tile boundaries / mean step across the other latent-cell boundaries.

    Cell and tile boundaries sit ``phase`` = (dy, dx) pixels from the multiples of their size (the decode is
    rolled by that much). ≈ 1: tile boundaries are invisible (they are cell boundaries like any other)."""
    arr = img if img.ndim == 3 else img[..., None]
    h, w = arr.shape[:2]
    dy, dx = phase
    if w <= tile_px and h <= tile_px:
        return None
    tiles_x = [(x + dx) % w for x in range(tile_px, w, tile_px)]
    tiles_y = [(y + dy) % h for y in range(tile_px, h, tile_px)]
    others_x = [(x + dx) % w for x in range(cell, w, cell) if x % tile_px]
    others_y = [(y + dy) % h for y in range(cell, h, cell) if y % tile_px]
    across, others = _boundary_steps(arr, tiles_x, tiles_y), _boundary_steps(arr, others_x, others_y)
    return (across[0] / across[1]) / (others[0] / others[1])


def map_seams(material, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """{"seam_ratio": {map: value}, "interior_ratio": {map: value}} of one material.

    interior_ratio is seam_ratio's statistic at a random interior column and row instead of the wrap-around
    edge; both share one pass over the interior steps.
    """
    figures: dict[str, dict[str, float]] = {"seam_ratio": {}, "interior_ratio": {}}
    for key in MAPS:
        img = getattr(material, key)
        arr = img if img.ndim == 3 else img[..., None]
        h, w = arr.shape[:2]
        seam_sum, seam_n, inner_sum, inner_n = metrics.seam_steps(arr)
        place = _boundary_steps(arr, [int(rng.integers(1, w))], [int(rng.integers(1, h))])
        inner = inner_sum / inner_n
        figures["seam_ratio"][key] = (seam_sum / seam_n) / inner
        figures["interior_ratio"][key] = (place[0] / place[1]) / inner
    return figures


def mean_seams(rows: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {fig: {key: float(np.mean([row[fig][key] for row in rows])) for key in MAPS} for fig in ("seam_ratio", "interior_ratio")}


def material_phase(model, cls: str, seed: int, size: int) -> tuple[int, int]:
    """The pixel offset the generator rolled this material's decode by (where its cell grid lies)."""
    return cell_phase(model, seed, api.class_index(model, cls), size, size)


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_flops(runs: int = 5) -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    seconds = median_seconds(lambda: a @ b, runs)
    return 2.0 * 2048**3 / seconds


def decoder_flops(model, size: int = 512) -> tuple[float, float, float]:
    """(FLOPs executed, FLOPs of one whole-canvas decode, median seconds) of the decoder for one size² material of
    the first class, decoded as the generator decodes it (decode_canvas: tiles with halos, one torch thread per
    tile). FLOPs are counted on the same tiles run serially (the counter sees only its own thread)."""
    from torch.utils.flop_counter import FlopCounterMode

    from scenegen.model import sample

    cells = latent_cells(size, model.config.scale)
    latent = sample_texture_latent(model, 0, cells, cells, 0)
    weights = condition_weights(model.config, 0, cells, cells)
    with sample.single_threaded(), FlopCounterMode(display=False) as counter:
        decode(model, latent, weights)
    fast, sample.FAST_PATH = sample.FAST_PATH, False  # the reference decode of the whole canvas in one piece
    try:
        with sample.single_threaded(), FlopCounterMode(display=False) as whole:
            decode(model, latent, weights, tile=cells)
    finally:
        sample.FAST_PATH = fast
    seconds = median_seconds(lambda: decode_canvas(model, latent, weights, size, size), 5)
    return float(counter.get_total_flops()), float(whole.get_total_flops()), seconds


# ------------------------------------------------------------------------------------------ big sizes


def big_child(args: argparse.Namespace) -> None:
    """In a fresh process: generate one big set, report peak RSS, seconds and every map's seam figures."""
    def peak_gb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9

    model = api.load_model(args.model)
    loaded = peak_gb()
    start = time.perf_counter()
    seed = args.child_seed
    material = api.generate_material(args.child_big, seed, args.big, model=model)
    generate_s, generate_peak = time.perf_counter() - start, peak_gb()
    save_s = save_peak = None
    if seed == 0:  # one set per class is also written: the peak with the PNGs, and their time
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            save_material(material, folder, preview=True)
            save_s, save_peak = time.perf_counter() - start, peak_gb()
    cell, phase = model.config.scale, material_phase(model, args.child_big, seed, args.big)
    print(json.dumps({
        "class": args.child_big, "seed": seed, "size": args.big, "rss_after_load_gb": loaded, "peak_rss_gb": generate_peak,
        "peak_rss_with_save_gb": save_peak, "generate_s": generate_s, "save_s": save_s,
        **map_seams(material, np.random.default_rng([args.big, seed])),
        "tile_seam_ratio": {k: tile_seam_ratio(getattr(material, k), TILE_CELLS * cell, cell, phase) for k in MAPS},
    }))


def big_classes(choice: str, classes: list[str]) -> list[str]:
    """``--big-classes``: "all", a count (the first N classes) or comma-separated class names."""
    if choice == "all":
        return classes
    if choice.isdigit():
        return classes[: max(1, int(choice))]
    names = choice.split(",")
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise SystemExit(f"--big-classes: unknown class(es) {', '.join(unknown)}; the model knows {', '.join(classes)}")
    return names


def run_big(args: argparse.Namespace, cls: str, seed: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child-big", cls, "--child-seed", str(seed), "--big", str(args.big)]
    if args.model:
        cmd += ["--model", args.model]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"big-size child failed for {cls}:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ photos


def photo(name: str) -> np.ndarray:
    from skimage import data as skdata

    grey = getattr(skdata, name)().astype(np.float32) / 255.0
    return np.repeat(grey[..., None], 3, axis=2)


def crops(images: list[np.ndarray], count: int, side: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        img = images[i % len(images)]
        y, x = rng.integers(0, img.shape[0] - side + 1), rng.integers(0, img.shape[1] - side + 1)
        out.append(img[y : y + side, x : x + side])
    return np.stack(out)


def evaluate_photo(model, name: str, sizes: list[int]) -> dict:
    """Seam figures of --from-image materials of a photo, and gram_dist of the result to the photo."""
    image = photo(name)
    seen = image  # materials keep the photo's own pixel scale
    row: dict = {"photo_seam_ratio": metrics.seam_ratio(image)}
    generated = []
    for size in sizes:
        seams = [map_seams(api.material_from_image(image, size, seed, model=model), np.random.default_rng([size, seed]))
                 for seed in range(SEEDS.get(size, 1))]
        row[f"seams@{size}"] = mean_seams(seams)
    for seed in range(4):
        generated.append(api.texture_from_image(image, 512, seed, model=model))
    real = crops([seen], 16, 128, 0)
    row["gram_dist"] = metrics.gram_dist(crops(generated, 16, 128, 1), real)
    row.update({f"gram_{k}": v for k, v in metrics.gram_references(real).items()})
    return row


# ------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--runs", type=int, default=5, help="timed warm runs per size (median)")
    parser.add_argument("--big", type=int, default=8192, help="the largest size (peak RSS, seams)")
    parser.add_argument("--big-classes", default="2", help="'all', how many classes, or class names (a,b) to run at the largest size (default 2; all, 2 seeds: ~45 min on 2 cores)")
    parser.add_argument("--quick", action="store_true", help="512² only: no 2048², no largest size, one photo")
    parser.add_argument("--big-seeds", type=int, default=2, help="materials per class at the largest size (seam figures)")
    parser.add_argument("--child-big", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_big:
        big_child(args)
        return
    started = time.perf_counter()
    model = api.load_model(args.model)
    classes = list(model.classes)
    first = classes[0]
    threads, cores = torch.get_num_threads(), os.cpu_count()

    figures: dict = {"benchmark": "generate", "model_hash": model.model_hash, "cores": cores, "threads": threads}

    figures["matmul_gflops"] = matmul_flops() / 1e9
    figures["material_s@512"] = median_seconds(lambda: api.generate_material(first, 0, 512, model=model), args.runs)
    flops, whole_flops, decode_s = decoder_flops(model)
    figures["decoder_gflop@512"] = flops / 1e9
    figures["decoder_gflop_whole@512"] = whole_flops / 1e9
    figures["decode_s@512"] = decode_s
    figures["decode_efficiency"] = flops / figures["material_s@512"] / (figures["matmul_gflops"] * 1e9)
    figures["decoder_only_efficiency"] = flops / decode_s / (figures["matmul_gflops"] * 1e9)
    sizes = [512] if args.quick else [512, 2048]
    if not args.quick:
        figures["material_s@2048"] = median_seconds(lambda: api.generate_material(first, 0, 2048, model=model), args.runs)

    seams: dict = {}
    tiles: dict = {}
    cell, tile_px = model.config.scale, TILE_CELLS * model.config.scale
    for size in sizes:
        seams[str(size)] = {}
        for cls in classes:
            materials = [api.generate_material(cls, seed, size, model=model) for seed in range(SEEDS.get(size, 1))]
            seams[str(size)][cls] = mean_seams([map_seams(m, np.random.default_rng([size, seed])) for seed, m in enumerate(materials)])
            if size > tile_px:
                tiles.setdefault(str(size), {})[cls] = max(
                    np.mean([tile_seam_ratio(getattr(m, k), tile_px, cell, material_phase(model, cls, seed, size))
                             for seed, m in enumerate(materials)]) for k in MAPS)
            del materials
    if not args.quick:  # the tiled decode against one whole-canvas decode (2048²: 2.5 GB of activations)
        cells = latent_cells(2048, cell)
        latent = sample_texture_latent(model, 0, cells, cells, 0)
        weights = condition_weights(model.config, 0, cells, cells)
        whole = np.clip(decode(model, latent, weights, tile=cells), 0.0, 1.0)
        figures["tiled_vs_whole_max_abs@2048"] = float(np.abs(decode_canvas(model, latent, weights, 2048, 2048) - whole).max())
        del whole
        big_rows = {cls: [run_big(args, cls, seed) for seed in range(args.big_seeds)] for cls in big_classes(args.big_classes, classes)}
        seams[str(args.big)] = {cls: mean_seams(rows) for cls, rows in big_rows.items()}
        tiles[str(args.big)] = {cls: max(np.mean([row["tile_seam_ratio"][k] for row in rows]) for k in MAPS)
                                for cls, rows in big_rows.items()}
        every = [row for rows in big_rows.values() for row in rows]
        saved = [row for row in every if row["save_s"] is not None]
        figures["peak_rss_gb"] = max(row["peak_rss_gb"] for row in every)
        figures["peak_rss_with_save_gb"] = max(row["peak_rss_with_save_gb"] for row in saved)
        figures[f"material_s@{args.big}"] = statistics.median(row["generate_s"] for row in every)
        figures[f"save_s@{args.big}"] = statistics.median(row["save_s"] for row in saved)
    figures["seams"] = seams
    figures["seam_ratio_max"] = {size: max(max(row["seam_ratio"].values()) for row in per.values()) for size, per in seams.items()}
    figures["seam_ratio_mean"] = {size: float(np.mean([list(row["seam_ratio"].values()) for row in per.values()]))
                                  for size, per in seams.items()}
    figures["interior_ratio_mean"] = {size: float(np.mean([list(row["interior_ratio"].values()) for row in per.values()]))
                                       for size, per in seams.items()}
    figures["tile_seam_ratio_max"] = {size: max(per.values()) for size, per in tiles.items()}
    figures["tile_seam_ratio"] = tiles
    photos = PHOTOS[:1] if args.quick else PHOTOS
    figures["from_image"] = {name: evaluate_photo(model, name, sizes) for name in photos}

    # ---- table
    print(f"material generation — model {model.model_hash[:12]}, torch threads {threads}, cores {cores}")
    for key in ("matmul_gflops", "material_s@512", "material_s@2048", f"material_s@{args.big}", f"save_s@{args.big}",
                "decoder_gflop@512", "decoder_gflop_whole@512", "decode_s@512", "decode_efficiency", "decoder_only_efficiency", "peak_rss_gb",
                "peak_rss_with_save_gb"):
        if key in figures:
            target = TARGETS.get(key.replace("_with_save", ""))
            print(f"  {key:<26}{figures[key]:>10.3f}" + (f"   target ≤ {target}" if target and "with_save" not in key else ""))
    counts = {**SEEDS, args.big: args.big_seeds}
    per_size = ", ".join(f"{n} at {size}²" for size, n in counts.items() if str(size) in seams)
    print(f"  seam_ratio per map, mean of {per_size} materials per class (target ≤ {TARGETS['seam_ratio']}); "
          "in brackets interior_ratio (the same statistic at a random interior row and column)")
    print(f"    {'size':>6} {'class':<13}" + "".join(f"{k:>16}" for k in MAPS) + f"{'tile bound.':>12}")
    for size, per in seams.items():
        for cls, row in per.items():
            tile = tiles.get(size, {}).get(cls)
            cells = "".join(f"{row['seam_ratio'][k]:>9.3f} ({row['interior_ratio'][k]:.2f})" for k in MAPS)
            print(f"    {size:>6} {cls:<13}{cells}" + (f"{tile:>12.3f}" if tile else f"{'-':>12}"))
    if "tiled_vs_whole_max_abs@2048" in figures:
        print(f"  tiled decode vs whole-canvas decode at 2048²: max |difference| {figures['tiled_vs_whole_max_abs@2048']:.2e}")
    print("  --from-image on photos that are not tileable")
    for name, row in figures["from_image"].items():
        worst = max(max(v["seam_ratio"].values()) for k, v in row.items() if k.startswith("seams@"))
        mean = np.mean([list(v["seam_ratio"].values()) for k, v in row.items() if k.startswith("seams@")])
        print(f"    {name:<8} photo seam {row['photo_seam_ratio']:.2f} → map seams mean {mean:.3f}, worst {worst:.3f};  "
              f"gram_dist {row['gram_dist']:.3f}  (real-vs-real {row['gram_real_vs_real']:.3f}, blurred-vs-real "
              f"{row['gram_blurred_vs_real']:.3f})")
    figures["wall_s"] = time.perf_counter() - started
    print(f"  {figures['wall_s']:.0f} s in all")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
