"""``scenegen material``: files and bit depths, content-addressed cache, conventions, errors, photos,
variations, tiled decoding (real tiny model, real pyrender, real files; nothing mocked)."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from conftest import run_cli
from scenegen import api
from scenegen.cache import Cache, cache_key, request_record
from scenegen.commands.material import _texture_model
from scenegen.metrics import seam_ratio
from scenegen.model.sample import condition_weights, decode, decode_canvas, latent_cells, sample_texture_latent

MAPS = ("basecolor", "normal", "roughness", "height", "ao", "orm", "preview")
GREY_MAPS = ("basecolor", "normal", "roughness", "height", "ao")  # the maps seam_ratio is reported for
MODES = {"basecolor": "RGB", "normal": "RGB", "orm": "RGB", "preview": "RGB", "roughness": "L", "ao": "L", "height": "I;16"}
SIZE = 128


def child_cpu() -> float:
    """CPU seconds (user + sys) used so far by finished child processes: robust to other load on the machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def material_cli(*args: str, cwd: Path) -> tuple[object, float]:
    before = child_cpu()
    result = run_cli("material", *args, cwd=cwd)
    return result, child_cpu() - before


def read(path: Path) -> np.ndarray:
    """A PNG as float in [0, 1] (16-bit aware)."""
    with Image.open(path) as img:
        array = np.asarray(img)
    return array.astype(np.float64) / (65535.0 if array.dtype == np.uint16 or img.mode.startswith("I") else 255.0)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SCENEGEN_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory):
    """A folder shared by the tests of one generated set, with its own cache ($SCENEGEN_CACHE)."""
    folder = tmp_path_factory.mktemp("material_cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCENEGEN_CACHE", str(folder / "cache"))
        yield folder


@pytest.fixture(scope="module")
def first_run(tiny_model: Path, work: Path) -> dict:
    """One generated set (cold cache) of brick, seed 3."""
    result, cpu = material_cli("brick", "--seed", "3", "--size", str(SIZE), "--out", "a", "--model", str(tiny_model), cwd=work)
    assert result.returncode == 0, result.stderr
    (entry,) = (work / "cache" / "materials").iterdir()  # one entry, no staging folders left behind
    return {"result": result, "cpu": cpu, "key": entry.name, "files": {m: work / "a" / f"brick_3_{m}.png" for m in MAPS}}


def test_writes_seven_files_with_the_right_bit_depths(first_run: dict) -> None:
    assert "brick_3: 7 files" in first_run["result"].stdout and "generated" in first_run["result"].stdout
    for key, path in first_run["files"].items():
        with Image.open(path) as img:
            assert img.mode == MODES[key], (key, img.mode)
            assert img.size == ((2 * 512, 512) if key == "preview" else (SIZE, SIZE)), (key, img.size)
    height = np.asarray(Image.open(first_run["files"]["height"]))
    assert len(np.unique(height)) > 256  # really 16-bit data
    assert sorted(p.name for p in first_run["files"]["basecolor"].parent.iterdir()) == sorted(
        f"brick_3_{m}.png" for m in MAPS)  # nothing else, no temp files


def test_repeat_is_a_byte_identical_cache_hit_and_no_cache_is_identical(first_run: dict, tiny_model: Path, work: Path) -> None:
    again, hit_cpu = material_cli("brick", "--seed", "3", "--size", str(SIZE), "--out", "b", "--model", str(tiny_model), cwd=work)
    assert again.returncode == 0, again.stderr
    assert "cached" in again.stdout
    assert hit_cpu < 0.5 * first_run["cpu"], (hit_cpu, first_run["cpu"])  # no model, no decode, no render
    fresh, _ = material_cli("brick", "--seed", "3", "--size", str(SIZE), "--out", "c", "--no-cache", "--model", str(tiny_model),
                            cwd=work)
    assert fresh.returncode == 0 and "cached" not in fresh.stdout
    for key, path in first_run["files"].items():
        assert (work / "b" / path.name).read_bytes() == path.read_bytes(), key
        assert (work / "c" / path.name).read_bytes() == path.read_bytes(), key  # deterministic, preview included


def test_damaged_cache_entry_is_not_served(first_run: dict, tiny_model: Path, work: Path) -> None:
    entry = work / "cache" / "materials" / first_run["key"]
    (entry / "normal.png").write_bytes(b"\x89PNG damaged")
    result, _ = material_cli("brick", "--seed", "3", "--size", str(SIZE), "--out", "d", "--model", str(tiny_model), cwd=work)
    assert result.returncode == 0 and "cached" not in result.stdout, result.stdout
    for key, path in first_run["files"].items():
        assert (work / "d" / path.name).read_bytes() == path.read_bytes(), key
    assert (entry / "normal.png").read_bytes() == first_run["files"]["normal"].read_bytes()  # entry rebuilt


def test_directx_flips_green_only(first_run: dict, tiny_model: Path, tmp_path: Path, cache_dir: Path) -> None:
    result, _ = material_cli("brick", "--seed", "3", "--size", str(SIZE), "--out", "dx", "--no-preview",
                             "--normal-convention", "directx", "--model", str(tiny_model), cwd=tmp_path)
    assert result.returncode == 0 and "cached" not in result.stdout, result.stderr  # a different request
    gl = np.asarray(Image.open(first_run["files"]["normal"])).astype(int)
    dx = np.asarray(Image.open(tmp_path / "dx" / "brick_3_normal.png")).astype(int)
    assert gl[..., 1].std() > 0.5  # there is a green signal to flip
    assert np.abs(dx[..., 1] - (255 - gl[..., 1])).max() <= 1
    np.testing.assert_array_equal(dx[..., [0, 2]], gl[..., [0, 2]])
    for key in ("basecolor", "height", "roughness", "ao", "orm"):
        assert (tmp_path / "dx" / f"brick_3_{key}.png").read_bytes() == first_run["files"][key].read_bytes(), key
    assert not (tmp_path / "dx" / "brick_3_preview.png").exists()


def test_unknown_class_names_the_valid_ones(tiny_model: Path, tmp_path: Path, cache_dir: Path) -> None:
    result, _ = material_cli("lava", "--model", str(tiny_model), "--out", "o", cwd=tmp_path)
    assert_one_line_error(result, "'lava'", "brick, grass, gravel")
    assert not (tmp_path / "o").exists()


def test_unreadable_or_missing_photo_names_the_file(tiny_model: Path, tmp_path: Path, cache_dir: Path) -> None:
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result, _ = material_cli("--from-image", str(broken), "--model", str(tiny_model), "--out", "o", cwd=tmp_path)
    assert_one_line_error(result, str(broken))
    missing = tmp_path / "nowhere.png"
    result, _ = material_cli("--from-image", str(missing), "--model", str(tiny_model), "--out", "o", cwd=tmp_path)
    assert_one_line_error(result, str(missing), "not found")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("size", ["100000", "16"])
def test_absurd_size_is_refused_before_any_work(size: str, tmp_path: Path, cache_dir: Path) -> None:
    started = time.perf_counter()
    result, cpu = material_cli("brick", "--size", size, "--model", str(tmp_path / "no-model-here"), "--out", "o", cwd=tmp_path)
    assert_one_line_error(result, f"--size {size}", "8192")  # the size, not the missing model: checked first
    assert cpu < 5.0, cpu  # no torch import, no model
    assert not (tmp_path / "o").exists() and not cache_dir.exists()
    assert time.perf_counter() - started < 60


def test_output_folder_that_cannot_be_made_is_a_clear_error(tiny_model: Path, tmp_path: Path, cache_dir: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    result, _ = material_cli("brick", "--out", "taken", "--model", str(tiny_model), cwd=tmp_path)
    assert_one_line_error(result, "taken", "output folder")
    assert not cache_dir.exists()  # refused before any work


@pytest.mark.parametrize("grain", ["-1", "4.5"])
def test_grain_out_of_range_is_refused_before_any_work(grain: str, tiny_model: Path, tmp_path: Path, cache_dir: Path) -> None:
    result, _ = material_cli("brick", "--grain", grain, "--model", str(tiny_model), cwd=tmp_path)
    assert_one_line_error(result, "--grain", "0 (none) to 4")
    assert not cache_dir.exists() and not (tmp_path / "out").exists()


def test_class_and_photo_are_exclusive(tiny_model: Path, tmp_path: Path) -> None:
    result, _ = material_cli("--model", str(tiny_model), cwd=tmp_path)
    assert_one_line_error(result, "CLASS", "--from-image")


def test_list_prints_the_classes(tiny_model: Path, tmp_path: Path) -> None:
    result, _ = material_cli("--list", "--model", str(tiny_model), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["brick", "grass", "gravel"]


def test_variations_write_one_set_per_seed(tiny_model: Path, tmp_path: Path, cache_dir: Path) -> None:
    result, _ = material_cli("grass", "--seed", "5", "--variations", "2", "--size", "64", "--no-preview", "--json",
                             "--out", "v", "--model", str(tiny_model), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [m["name"] for m in report["materials"]] == ["grass_5", "grass_6"]
    names = sorted(p.name for p in (tmp_path / "v").iterdir())
    assert names == sorted(f"grass_{s}_{m}.png" for s in (5, 6) for m in MAPS if m != "preview")
    a, b = (read(tmp_path / "v" / f"grass_{s}_height.png") for s in (5, 6))  # (the tiny model's colours are flat)
    assert np.abs(a - b).mean() > 1e-2  # different seeds, different materials


def non_tileable_photo(path: Path) -> np.ndarray:
    """A 200×260 crop of scikit-image's brick photo, tinted: its own seam_ratio is far above 1."""
    grey = skdata.brick().astype(np.float32) / 255.0
    crop = grey[37:237, 101:361]
    rgb = np.clip(crop[..., None] * np.array([1.0, 0.6, 0.45], np.float32) * 1.2, 0, 1)
    Image.fromarray((rgb * 255).round().astype(np.uint8)).save(path)
    return rgb


def _wrap_and_interior(image: np.ndarray) -> tuple[float, float]:
    """seam_ratio at the wrap edge, and the same statistic at three interior rows/columns (the image rolled)."""
    image = image if image.ndim == 3 else image[..., None]
    h, w = image.shape[:2]
    rolled = [seam_ratio(np.roll(image, (dy, dx), axis=(0, 1))) for dy, dx in ((h * 3 // 10, w * 5 // 9), (h // 2, w // 2), (h * 7 // 10, w // 10))]
    return seam_ratio(image), float(np.mean(rolled))


def test_from_image_makes_seamless_maps_from_a_non_tileable_photo(tiny_model: Path, tmp_path: Path, cache_dir: Path) -> None:
    """The wrap edge of every map looks like any interior place of it. One row and column of a structured map is a
    noisy sample (a brick photo's mortar lines), so the wrap-edge figure is compared, over 6 seeds and every map,
    with the same figure at interior places; the photo's own wrap edge is far above its interior."""
    photo = non_tileable_photo(tmp_path / "wall photo.png")
    photo_wrap, photo_inside = _wrap_and_interior(photo)
    assert photo_wrap > 1.5 * photo_inside  # the input really has a seam, and the comparison sees it
    seeds = tuple(range(1, 7))
    result, _ = material_cli("--from-image", str(tmp_path / "wall photo.png"), "--seed", "1", "--variations", str(len(seeds)),
                             "--size", str(SIZE), "--no-preview", "--out", "p", "--model", str(tiny_model), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pairs = [_wrap_and_interior(read(tmp_path / "p" / f"wall_photo_{seed}_{key}.png")) for seed in seeds for key in GREY_MAPS]
    wrap, inside = np.mean([p[0] for p in pairs]), np.mean([p[1] for p in pairs])
    assert wrap < 1.2 * inside, (wrap, inside)


def test_model_summary_matches_the_loaded_model(tiny_model: Path) -> None:
    info = _texture_model(tiny_model)
    model = api.load_model(tiny_model)
    assert info.classes == model.classes and info.model_hash == model.model_hash and info.identity == model.identity


def test_tiled_decode_equals_a_whole_decode_and_shows_no_tile_boundary(tiny_model: Path) -> None:
    from scenegen.model.sample import _fast_tiles

    model = api.load_model(tiny_model)
    cells = 200  # more than two tiles a side on the reference path (64 cells) and on the fast path (~96)
    size = cells * model.config.scale
    latent = sample_texture_latent(model, 1, cells, cells, 4)
    weights = condition_weights(model.config, 1, cells, cells)
    steps: list[float] = []
    tiled = decode_canvas(model, latent, weights, size, size, steps.append)
    whole = np.clip(decode(model, latent, weights, tile=cells), 0, 1)
    tiles = _fast_tiles(cells, cells, max(1, __import__("torch").get_num_threads()))
    assert len(steps) == len(tiles) >= 4 and steps == sorted(steps) and steps[-1] == 1.0  # one report per tile
    assert np.abs(tiled - whole).max() < 1e-5
    interior = np.abs(np.diff(tiled, axis=1)).mean() + np.abs(np.diff(tiled, axis=0)).mean()
    for edge in sorted({y0 for y0, _, _, _ in tiles} - {0}):  # every internal tile boundary
        e = edge * model.config.scale
        across = np.abs(tiled[:, e] - tiled[:, e - 1]).mean() + np.abs(tiled[e] - tiled[e - 1]).mean()
        assert across / interior < 1.5, (edge, across / interior)
    shifted = decode_canvas(model, latent, weights, size, size, phase=(3, 5))  # tiles written to rolled places
    np.testing.assert_array_equal(shifted, np.roll(tiled, (3, 5), axis=(0, 1)))
    small = latent[:, :16, :16]  # one tile: decoded whole, then rolled
    side = 16 * model.config.scale
    np.testing.assert_array_equal(decode_canvas(model, small, weights[:, :16, :16], side, side, phase=(7, 1)),
                                  np.roll(decode_canvas(model, small, weights[:, :16, :16], side, side), (7, 1), axis=(0, 1)))


def test_material_api_matches_generate_texture(tiny_model: Path) -> None:
    model = api.load_model(tiny_model)
    material = api.generate_material("gravel", 2, 204, model=model)  # 204 is not a multiple of 8: resampled
    np.testing.assert_array_equal(material.basecolor, api.generate_texture("gravel", 2, 204, model=model))
    assert material.basecolor.shape == (204, 204, 3) and material.basecolor.dtype == np.float32
    assert all(seam_ratio(getattr(material, key)) < 1.3 for key in GREY_MAPS)


# ------------------------------------------------------------------------------------------ the cache itself


def test_cache_key_is_canonical_and_covers_inputs(tmp_path: Path) -> None:
    photo = tmp_path / "in.bin"
    photo.write_bytes(b"one")
    a = cache_key(request_record("material", {"seed": 1, "size": 64}, model_hash="m", inputs={"photo": photo}))
    b = cache_key(request_record("material", {"size": 64, "seed": 1}, model_hash="m", inputs={"photo": photo}))
    assert a == b and len(a) == 64
    assert a != cache_key(request_record("material", {"seed": 2, "size": 64}, model_hash="m", inputs={"photo": photo}))
    assert a != cache_key(request_record("material", {"seed": 1, "size": 64}, model_hash="n", inputs={"photo": photo}))
    assert a != cache_key(request_record("scene", {"seed": 1, "size": 64}, model_hash="m", inputs={"photo": photo}))
    photo.write_bytes(b"two")  # same path, new content: a new key
    assert a != cache_key(request_record("material", {"seed": 1, "size": 64}, model_hash="m", inputs={"photo": photo}))


def test_cache_key_covers_the_generating_code(tmp_path: Path) -> None:
    """An edited generator (same version, same model) must not be served its old outputs."""
    import shutil
    import subprocess
    import sys

    import scenegen
    from scenegen import cache as cache_module

    record = request_record("material", {"seed": 1})
    assert record["code"] == cache_module.code_fingerprint() and len(record["code"]) == 64
    copy = tmp_path / "scenegen"
    shutil.copytree(Path(scenegen.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import scenegen.cache as c; print(c.code_fingerprint())")
    same = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True)
    assert same.stdout.strip() == record["code"]
    (copy / "materials.py").write_text((copy / "materials.py").read_text() + "\n# an edit\n")
    edited = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True)
    assert edited.stdout.strip() != record["code"]


def test_cache_store_fetch_verify_and_first_writer_wins(tmp_path: Path) -> None:
    cache = Cache("things", root=tmp_path / "cache")
    record = request_record("thing", {"x": 1})
    key = cache_key(record)
    assert cache.fetch(key, {"a.txt": tmp_path / "out" / "a.txt"}) is None
    source = tmp_path / "src.txt"
    source.write_bytes(b"payload")
    cache.store(key, {"a.txt": source}, record)
    other = tmp_path / "other.txt"
    other.write_bytes(b"a second writer's bytes")
    cache.store(key, {"a.txt": other}, record)  # a concurrent writer of the same key: the first entry stays
    got = cache.fetch(key, {"a.txt": tmp_path / "out" / "a.txt"})
    assert got == {"a.txt": tmp_path / "out" / "a.txt"} and got["a.txt"].read_bytes() == b"payload"
    manifest = json.loads((cache.entry_dir(key) / "entry.json").read_text())
    assert manifest["key"] == key and manifest["request"]["kind"] == "thing"
    assert not [p for p in cache.folder.iterdir() if p.name.startswith(".")]  # no staging folders left
    (cache.entry_dir(key) / "a.txt").write_bytes(b"paylaod")  # damaged in place
    assert cache.fetch(key, {"a.txt": tmp_path / "out2" / "a.txt"}) is None
    assert not cache.entry_dir(key).exists() and not (tmp_path / "out2" / "a.txt").exists()
