"""The JSON-lines worker (``scenegen worker``) and the add-on's stdlib client, over real pipes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _load_client():
    """blender_addon/worker_client.py is standard-library only: import it here without Blender."""
    spec = importlib.util.spec_from_file_location("sg_worker_client", REPO / "blender_addon" / "worker_client.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sg_worker_client"] = module
    spec.loader.exec_module(module)
    return module


wc = _load_client()


class RawWorker:
    """A worker process driven line by line (the protocol as a client sees it)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "scenegen", "worker", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, cwd=REPO)
        self.ready = self.read()

    def send(self, message) -> None:
        self.proc.stdin.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, f"worker exited: {self.proc.stderr.read()[-2000:]}"
        return json.loads(line)  # every stdout line must be JSON

    def until_done(self, request_id) -> list[dict]:
        events = []
        while True:
            event = self.read()
            if event.get("id") != request_id:
                continue
            events.append(event)
            if event["event"] in ("result", "error"):
                return events

    def close(self) -> int:
        self.proc.stdin.close()
        code = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code


@pytest.fixture(scope="module")
def raw(tiny_model):
    worker = RawWorker("--model", str(tiny_model))
    yield worker
    worker.close()


def test_protocol_errors_are_one_line_json(raw, tmp_path):
    assert raw.ready["event"] == "ready" and raw.ready["protocol"] == 1 and raw.ready["id"] is None

    raw.send("this is not json")
    event = raw.read()
    assert event["event"] == "error" and event["code"] == "protocol" and event["id"] is None
    assert "not JSON" in event["message"]

    raw.send([1, 2])
    assert raw.read()["code"] == "protocol"

    raw.send({"id": "u", "op": "frobnicate"})
    event = raw.until_done("u")[-1]
    assert event["code"] == "protocol" and "unknown op 'frobnicate'" in event["message"] and "material" in event["message"]

    cases = {
        "missing": ({"size": 64, "out_dir": str(tmp_path)}, "params.class is required for op 'material'"),
        "type": ({"class": "brick", "size": "big", "out_dir": str(tmp_path)}, "params.size must be an integer, got 'big'"),
        "range": ({"class": "brick", "size": 16, "out_dir": str(tmp_path)}, "params.size 16 is outside the supported range"),
        "class": ({"class": "marble", "size": 64, "out_dir": str(tmp_path)}, "unknown class 'marble'; this model knows: brick, grass, gravel"),
        "params": ("oops", "params of op 'material' must be a JSON object"),
    }
    for request_id, (params, expected) in cases.items():
        raw.send({"id": request_id, "op": "material", "params": params})
        event = raw.until_done(request_id)[-1]
        assert event["event"] == "error" and event["code"] == "user", event
        assert expected in event["message"], event["message"]
        assert "\n" not in event["message"] and "Traceback" not in event["message"]
    assert not list(tmp_path.iterdir()), "a failed request wrote files"

    bad = tmp_path / "scene.json"
    bad.write_text("{not json")
    raw.send({"id": "s", "op": "build_scene", "params": {"scene": str(bad), "out_dir": str(tmp_path / "s")}})
    event = raw.until_done("s")[-1]
    assert event["code"] == "user" and f"{bad}: not valid JSON" in event["message"]
    raw.send({"id": "m", "op": "material_from_image", "params": {"image": str(tmp_path / "nope.jpg"), "out_dir": str(tmp_path)}})
    assert "params.image: file not found" in raw.until_done("m")[-1]["message"]


def test_material_files_are_deterministic_and_reused(raw, tmp_path):
    """Sets come from the reuse service (the cache `scenegen material` uses): made once, then served verified."""
    cache = str(tmp_path / "cache")
    request = {"class": "grass", "seed": 5, "size": 64, "cache": cache}
    raw.send({"id": "a", "op": "material", "params": dict(request, out_dir=str(tmp_path / "a"))})
    events = raw.until_done("a")
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and all(0 <= e["progress"] <= 1 for e in progress)
    assert [e["progress"] for e in progress] == sorted(e["progress"] for e in progress)
    first = events[-1]
    assert first["event"] == "result", first
    result = first["result"]
    assert result["name"] == "grass_5_64" and result["cached"] is False
    assert set(result["files"]) == {"basecolor", "normal", "roughness", "height", "ao", "orm"}
    for key, path in result["files"].items():
        assert Path(path).is_absolute() and Path(path).is_file() and Path(path).name == f"grass_5_64_{key}.png"

    # Generated again under another cache: the same bytes.
    raw.send({"id": "b", "op": "material", "params": dict(request, out_dir=str(tmp_path / "b"), cache=cache + "2")})
    second = raw.until_done("b")[-1]["result"]
    assert second["cached"] is False
    for key in result["files"]:
        assert Path(result["files"][key]).read_bytes() == Path(second["files"][key]).read_bytes(), key

    raw.send({"id": "c", "op": "material", "params": dict(request, out_dir=str(tmp_path / "c"))})
    again = raw.until_done("c")[-1]["result"]
    assert again["cached"] is True and again["params"] == result["params"] and again["model_hash"] == result["model_hash"]
    assert {k: Path(p).read_bytes() for k, p in again["files"].items()} == \
        {k: Path(p).read_bytes() for k, p in result["files"].items()}

    Path(result["files"]["normal"]).write_bytes(b"damaged")  # served again from the verified cache entry
    raw.send({"id": "d", "op": "material", "params": dict(request, out_dir=str(tmp_path / "a"))})
    repaired = raw.until_done("d")[-1]["result"]
    assert repaired["cached"] is True and repaired["files"] == result["files"]
    assert Path(repaired["files"]["normal"]).read_bytes() == Path(second["files"]["normal"]).read_bytes()

    raw.send({"id": "e", "op": "material", "params": dict(request, seed=6, out_dir=str(tmp_path / "a"))})
    other = raw.until_done("e")[-1]["result"]
    assert other["name"] == "grass_6_64" and other["cached"] is False and other["params"]["seed"] == 6
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        Path(p).name for p in list(result["files"].values()) + list(other["files"].values())), "nothing else left"


def test_material_from_a_photo(raw, photo_folder, tmp_path):
    photo = sorted((photo_folder / "brick").glob("*.png"))[0]
    raw.send({"id": "p", "op": "material_from_image", "params": {"image": str(photo), "size": 64, "seed": 2,
                                                                  "out_dir": str(tmp_path)}})
    event = raw.until_done("p")[-1]
    assert event["event"] == "result", event
    assert event["result"]["name"] == f"{photo.stem}_2_64"
    assert all(Path(p).is_file() for p in event["result"]["files"].values())


def test_cancel_stops_a_running_job_between_steps_and_skips_a_queued_one(raw, tmp_path):
    raw.send({"id": "long", "op": "material", "params": {"class": "brick", "seed": 9, "size": 512, "out_dir": str(tmp_path)}})
    raw.send({"id": "queued", "op": "material", "params": {"class": "brick", "seed": 10, "size": 64, "out_dir": str(tmp_path)}})
    while True:  # wait until generation has started, then cancel both
        event = raw.read()
        if event.get("id") == "long" and event["event"] == "progress" and "generating" in event["message"]:
            break
    raw.send({"id": "c1", "op": "cancel", "params": {"target": "queued"}})
    raw.send({"id": "c2", "op": "cancel", "params": {"target": "long"}})
    seen: dict = {}
    while not {"long", "queued", "c1", "c2"} <= set(seen):
        event = raw.read()
        if event["event"] in ("result", "error"):
            seen[event["id"]] = event
    assert seen["c1"]["result"] == {"target": "queued", "running": False}
    assert seen["c2"]["result"] == {"target": "long", "running": True}
    assert seen["long"]["event"] == "error" and seen["long"]["code"] == "cancelled"
    assert seen["queued"]["event"] == "error" and seen["queued"]["code"] == "cancelled"
    assert not list(tmp_path.glob("*.png")), "a cancelled job wrote maps"
    raw.send({"id": "after", "op": "ping"})
    assert raw.until_done("after")[-1]["result"]["protocol"] == 1


def test_end_of_input_and_shutdown_exit_cleanly(tiny_model, tmp_path):
    worker = RawWorker("--model", str(tiny_model))
    started = time.monotonic()
    assert worker.close() == 0 and time.monotonic() - started < 10
    # The client goes away in the middle of a long step: the worker does not linger (EOF_GRACE_S).
    worker = RawWorker("--model", str(tiny_model))
    worker.send({"id": "big", "op": "material", "params": {"class": "brick", "size": 2048, "out_dir": str(tmp_path)}})
    while "generating" not in worker.read().get("message", ""):
        pass
    started = time.monotonic()
    worker.proc.stdin.close()
    worker.proc.wait(timeout=60)
    assert time.monotonic() - started < 15
    assert not list(tmp_path.glob("*.png"))
    worker.proc.stdout.close()
    worker.proc.stderr.close()

    worker = RawWorker()
    worker.send({"id": "bye", "op": "shutdown"})
    assert worker.read() == {"id": "bye", "event": "result", "result": {"shutdown": True}}
    assert worker.proc.wait(timeout=30) == 0
    worker.close()


@pytest.fixture(scope="module")
def sprite_model(tmp_path_factory) -> Path:
    from test_scene_support import tiny_sprite_model_dir  # shared with the scene tests

    return tiny_sprite_model_dir(tmp_path_factory)


def test_sprites_and_sprite_classes(raw, sprite_model, tiny_model, tmp_path):
    from scenegen.imaging import load_image

    raw.send({"id": "k", "op": "classes", "params": {"sprite_model": str(sprite_model)}})
    classes = raw.until_done("k")[-1]["result"]
    assert classes["classes"] == ["brick", "grass", "gravel"] and classes["sprite_classes"]
    cls = classes["sprite_classes"][0]
    request = {"class": cls, "seed": 1, "count": 2, "size": 64, "sprite_model": str(sprite_model)}
    runs = []
    for folder in ("a", "b"):
        raw.send({"id": folder, "op": "sprites", "params": dict(request, out_dir=str(tmp_path / folder))})
        event = raw.until_done(folder)[-1]
        assert event["event"] == "result", event
        runs.append(event["result"]["files"])
    assert len(runs[0]) == 2 and [Path(p).name for p in runs[0]] == [f"{cls}_1_64_000.png", f"{cls}_1_64_001.png"]
    for a, b in zip(*runs):
        assert Path(a).read_bytes() == Path(b).read_bytes()
        assert load_image(a, "RGBA").shape == (64, 64, 4)

    for request_id, params, expected in (
        ("big", dict(request, size=1024), "1024"),
        ("tex", dict(request, sprite_model=str(tiny_model)), "not a sprite model"),
        ("cls", dict(request, **{"class": "unicorn"}), "unknown class 'unicorn'"),
    ):
        raw.send({"id": request_id, "op": "sprites", "params": dict(params, out_dir=str(tmp_path / "x"))})
        event = raw.until_done(request_id)[-1]
        assert event["code"] == "user" and expected in event["message"], event


MINI_SCENE = {
    "name": "mini",
    "materials": {"wall": {"class": "brick", "seed": 2, "size": 64, "tile_size_m": 2.0}},
    "objects": [{"type": "box", "name": "hut", "material": "wall", "size_m": [2, 2, 2], "position": [0, 0, 0]}],
    "camera": {"position": [0, 3, 6], "target": [0, 0, 0]},
    "render": {"width": 64, "height": 48, "antialias": 1},
}


def test_build_scene_relays_progress_and_returns_the_glb(raw, tmp_path):
    spec = tmp_path / "mini.json"
    spec.write_text(json.dumps(MINI_SCENE))
    raw.send({"id": "b", "op": "build_scene", "params": {"scene": str(spec), "out_dir": str(tmp_path / "out"),
                                                         "cache": str(tmp_path / "cache")}})
    events = raw.until_done("b")
    assert events[-1]["event"] == "result", events[-1]
    result = events[-1]["result"]
    assert Path(result["glb"]).read_bytes()[:4] == b"glTF"
    assert Path(result["glb"]).parent == tmp_path / "out"
    messages = " ".join(e["message"] for e in events if e["event"] == "progress")
    assert "materials" in messages and "render" in messages

    broken = dict(MINI_SCENE, objects=[{"type": "box", "name": "hut", "material": "nowhere", "size_m": [1, 1, 1]}])
    spec.write_text(json.dumps(broken))
    raw.send({"id": "c", "op": "build_scene", "params": {"scene": str(spec), "out_dir": str(tmp_path / "out2")}})
    event = raw.until_done("c")[-1]
    assert event["code"] == "user" and "nowhere" in event["message"], event


def test_export_library_runs_the_exporter(raw, tiny_model, tmp_path):
    library = tmp_path / "library.json"
    library.write_text(json.dumps({"version": 1, "name": "t", "model": str(tiny_model),
                                   "materials": [{"class": "gravel", "seeds": [0], "sizes": [64], "tile_size_m": 1.0}]}))
    cache = str(tmp_path / "cache")
    raw.send({"id": "x", "op": "export_library", "params": {"spec": str(library), "out_dir": str(tmp_path / "out"),
                                                             "workers": 1, "cache": cache}})
    event = raw.until_done("x")[-1]
    assert event["event"] == "result", event
    assert Path(event["result"]["manifest"]).is_file()
    assert event["result"]["summary"][0].startswith("exported 1/1 items") and event["result"]["cached"] == 0

    # the material op asks for the same set (default map options spelled out): served from the export's entry
    raw.send({"id": "m", "op": "material", "params": {"class": "gravel", "seed": 0, "size": 64, "cache": cache,
                                                       "out_dir": str(tmp_path / "set"), "normal_strength": 1.0,
                                                       "roughness_range": [0.45, 0.95]}})
    made = raw.until_done("m")[-1]["result"]
    assert made["cached"] is True, made
    exported = tmp_path / "out" / "materials" / "gravel_0_64" / "gravel_0_64_orm.png"
    assert Path(made["files"]["orm"]).read_bytes() == exported.read_bytes()

    library.write_text(json.dumps({"version": 1, "name": "t", "materials": [{"class": "unicorn", "seeds": [0]}]}))
    raw.send({"id": "y", "op": "export_library", "params": {"spec": str(library), "out_dir": str(tmp_path / "out2")}})
    event = raw.until_done("y")[-1]
    assert event["code"] == "user" and "unicorn" in event["message"] and "Traceback" not in event["message"], event


def test_export_library_models_stay_inside_the_library_folder_unless_allowed(raw, sprite_model, tmp_path):
    """A library's sprite_model outside its folder is refused (naming the file and field) unless the request
    says allow_outside, as build_scene's does."""
    library = tmp_path / "lib" / "library.json"
    library.parent.mkdir()
    library.write_text(json.dumps({"version": 1, "name": "t", "sprite_model": str(sprite_model),
                                   "sprites": [{"name": "r", "class": "rock", "count": 1, "size": 64}]}))
    params = {"spec": str(library), "out_dir": str(tmp_path / "out"), "workers": 1}
    raw.send({"id": "in", "op": "export_library", "params": params})
    event = raw.until_done("in")[-1]
    assert event["code"] == "user" and "library.json:1:" in event["message"], event
    assert "sprite_model: " in event["message"] and "--allow-outside" in event["message"], event
    raw.send({"id": "out", "op": "export_library", "params": dict(params, allow_outside=True)})
    event = raw.until_done("out")[-1]
    assert event["event"] == "result" and event["result"]["built"] == 1, event


# ------------------------------------------------------------------------------------------------- the client
def test_client_round_trip_progress_and_restart_after_a_crash(tiny_model, tmp_path):
    client = wc.WorkerClient(sys.executable, cwd=str(tmp_path))
    try:
        assert client.call("classes", {"model": str(tiny_model)}, timeout=120)["classes"] == ["brick", "grass", "gravel"]
        seen = []
        job = client.submit("material", {"model": str(tiny_model), "class": "gravel", "size": 64, "out_dir": str(tmp_path)})
        result = job.wait(timeout=120, on_progress=lambda j: seen.append(j.message))
        assert Path(result["files"]["basecolor"]).is_file() and job.progress == 1.0

        with pytest.raises(wc.WorkerError) as info:
            client.call("material", {"model": str(tiny_model), "class": "nope", "out_dir": str(tmp_path)}, timeout=120)
        assert info.value.code == "user" and "unknown class 'nope'" in str(info.value)

        # The worker dies in the middle of a job: the job fails with a clear message, the next one restarts it.
        job = client.submit("material", {"model": str(tiny_model), "class": "brick", "size": 1024, "out_dir": str(tmp_path / "k")})
        while "generating" not in job.message:
            job.poll(0.1)
        client.process.kill()
        with pytest.raises(wc.WorkerError) as info:
            job.wait(timeout=30)
        assert info.value.code == "exit" and "scenegen worker stopped" in str(info.value)
        assert client.call("ping", timeout=60)["protocol"] == 1
    finally:
        client.stop()
    assert client.process is None


def test_client_reports_a_python_that_cannot_run_scenegen(tmp_path):
    missing = wc.WorkerClient(str(tmp_path / "no-such-python"))
    with pytest.raises(wc.WorkerError) as info:
        missing.call("ping", timeout=30)
    assert info.value.code == "start" and "cannot start the scenegen worker" in str(info.value)

    bare = tmp_path / "bare"  # a Python environment without scenegen
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    client = wc.WorkerClient(str(bare / "bin" / "python"), cwd=str(tmp_path))
    with pytest.raises(wc.WorkerError) as info:
        client.call("ping", timeout=60)
    assert info.value.code == "exit" and "cannot import scenegen" in str(info.value)
    client.stop()


def test_cancel_kills_a_worker_that_does_not_answer(tiny_model, tmp_path, monkeypatch):
    """The worker answers a cancel at once from its reader thread; a worker that cannot answer at all (here
    stopped with SIGSTOP, as a hung process would be) is killed by the client after CANCEL_GRACE_S."""
    import signal

    monkeypatch.setattr(wc, "CANCEL_GRACE_S", 0.5)
    client = wc.WorkerClient(sys.executable, cwd=str(tmp_path))
    try:
        client.call("classes", {"model": str(tiny_model)}, timeout=120)
        job = client.submit("material", {"model": str(tiny_model), "class": "brick", "size": 2048, "out_dir": str(tmp_path)})
        while "generating" not in job.message:
            job.poll(0.1)
        os.kill(client.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        job.cancel()
        with pytest.raises(wc.WorkerError) as info:
            job.wait(timeout=30)
        assert info.value.code == "cancelled" and time.monotonic() - started < 5
        assert not client.alive
        assert not list(tmp_path.glob("*_basecolor.png"))
    finally:
        client.stop()


def test_detect_python_prefers_the_environment_variable_then_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("SCENEGEN_PYTHON", "/opt/custom/python")
    assert wc.detect_python(REPO / "blender_addon") == "/opt/custom/python"
    monkeypatch.delenv("SCENEGEN_PYTHON")
    found = wc.detect_python(REPO / "blender_addon")
    assert found is not None and Path(found).parent.parent == REPO / ".venv"


@pytest.mark.skipif(not hasattr(__import__("os"), "nice"), reason="POSIX niceness")
def test_nice_lowers_the_worker_priority():
    import os

    worker = RawWorker("--nice", "3")
    try:
        stat = Path(f"/proc/{worker.ready['pid']}/stat").read_text()
        niceness = int(stat[stat.rfind(")") + 2:].split()[16])
        assert niceness == min(os.nice(0) + 3, 19)
    finally:
        worker.close()
