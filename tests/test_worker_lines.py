"""The worker under hostile request lines, cooperative cancel and per-item export progress (real processes)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from test_worker import RawWorker


@pytest.fixture(scope="module")
def raw(tiny_model):
    worker = RawWorker("--model", str(tiny_model))
    yield worker
    worker.close()


def _send_bytes(raw: RawWorker, data: bytes) -> None:
    raw.proc.stdin.buffer.write(data + b"\n")
    raw.proc.stdin.flush()


def test_every_malformed_line_gets_an_error_with_its_id_and_the_reader_survives(raw):
    cases = [
        (b"this is not json", None, "not JSON"),
        (b"[" * 100_000, None, "longer than"),  # nested far too deep, and long
        (b"[" * 50_000, None, "nested too deep"),  # under the length limit: the parser's depth
        (b'{"id": "big", "op": "ping", "params": {"x": "' + b"a" * 1_000_000 + b'"}}', "big", "longer than"),
        (b'{"id": 7, "op": "material", "params": {', 7, "not JSON"),  # truncated: the id is still read
        (b'{"id": "u8", "op": "ping", "x": "\xff\xfe"}', "u8", "not UTF-8"),
        (b'{"id": ["x"], "op": "ping"}', None, "'id' must be a string or a number"),
        (b'{"id": "noop"}', "noop", "string 'op'"),
        (b"[1, 2]", None, "string 'op'"),
    ]
    for line, request_id, expected in cases:
        _send_bytes(raw, line)
        started = time.monotonic()
        event = raw.read()
        assert time.monotonic() - started < 10
        assert event["event"] == "error" and event["code"] == "protocol", event
        assert event["id"] == request_id and expected in event["message"], (line[:40], event)
        assert len(event["message"]) < 200
    raw.send({"id": "alive", "op": "ping"})
    assert raw.until_done("alive")[-1]["result"]["protocol"] == 1


def test_cancel_stops_a_2048_decode_within_a_second_and_leaves_no_files(raw, tmp_path):
    raw.send({"id": "big", "op": "material", "params": {"class": "brick", "seed": 4, "size": 2048, "out_dir": str(tmp_path)}})
    fractions = []
    while not fractions or fractions[-1] <= 0.12:  # wait until tiles are being decoded
        event = raw.read()
        assert event["event"] == "progress", event
        fractions.append(event["progress"])
    started = time.monotonic()
    raw.send({"id": "stop", "op": "cancel", "params": {"target": "big"}})
    while True:
        event = raw.read()
        if event["id"] == "big" and event["event"] == "error":
            break
    latency = time.monotonic() - started
    assert event["code"] == "cancelled" and latency <= 1.0, (event, latency)
    assert not list(tmp_path.iterdir())
    raw.send({"id": "after", "op": "ping"})
    assert raw.until_done("after")[-1]["result"]["pid"] == raw.ready["pid"]  # the same worker


def test_export_reports_every_item_and_a_cancel_keeps_only_whole_items(raw, tiny_model, tmp_path):
    library = tmp_path / "library.json"
    library.write_text(json.dumps({"version": 1, "name": "t", "model": str(tiny_model), "materials": [
        {"class": "gravel", "seeds": [0, 1, 2], "sizes": [64], "tile_size_m": 1.0}]}))
    out = tmp_path / "out"
    cache = str(tmp_path / "cache")  # its own: nothing served from an earlier run's entries
    raw.send({"id": "x", "op": "export_library", "params": {"spec": str(library), "out_dir": str(out), "workers": 1,
                                                             "cache": cache}})
    events = raw.until_done("x")
    assert events[-1]["event"] == "result", events[-1]
    items = [e for e in events if e["event"] == "progress" and e.get("done")]
    assert [e["done"] for e in items] == [1, 2, 3] and all(e["total"] == 3 for e in items)
    assert events[-1]["result"]["items"] == 3 and events[-1]["result"]["built"] == 3

    big = tmp_path / "big.json"
    big.write_text(json.dumps({"version": 1, "name": "b", "model": str(tiny_model), "materials": [
        {"class": "brick", "seeds": list(range(8)), "sizes": [1024], "tile_size_m": 1.0}]}))
    raw.send({"id": "y", "op": "export_library", "params": {"spec": str(big), "out_dir": str(tmp_path / "big"), "workers": 1,
                                                             "cache": cache}})
    while "exporting 8" not in raw.read().get("message", ""):
        pass
    time.sleep(1.0)
    started = time.monotonic()
    raw.send({"id": "stop", "op": "cancel", "params": {"target": "y"}})
    event = next(e for e in iter(raw.read, None) if e["id"] == "y" and e["event"] in ("result", "error"))
    assert event["code"] == "cancelled" and time.monotonic() - started < 1.0, event
    raw.send({"id": "next", "op": "ping"})  # a job waits for a cancelled one's thread: it stopped mid-decode
    assert raw.until_done("next")[-1]["event"] == "result" and time.monotonic() - started < 2.0
    leftovers = [p for p in (tmp_path / "big").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert not leftovers, leftovers


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_a_cancelled_export_kills_its_worker_processes_at_once(raw, tiny_model, tmp_path):
    """The export runs in the worker's process; a cancel stops its process pool from the job's cancel check."""
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"version": 1, "name": "b", "model": str(tiny_model), "materials": [
        {"class": "brick", "seeds": list(range(8)), "sizes": [1024], "tile_size_m": 1.0}]}))
    raw.send({"id": "p", "op": "export_library", "params": {"spec": str(big), "out_dir": str(tmp_path / "out"),
                                                             "workers": 2, "cache": str(tmp_path / "cache")}})
    deadline = time.monotonic() + 120
    while len(_children(raw.proc.pid)) < 2:  # the pool's processes (spawned: a resource tracker may join them)
        assert time.monotonic() < deadline, "no worker processes started"
        time.sleep(0.05)
    started = time.monotonic()
    raw.send({"id": "stop", "op": "cancel", "params": {"target": "p"}})
    event = next(e for e in iter(raw.read, None) if e["id"] == "p" and e["event"] in ("result", "error"))
    assert event["code"] == "cancelled", event
    while [c for c in _children(raw.proc.pid) if Path(f"/proc/{c}/cmdline").read_bytes().count(b"spawn_main")]:
        assert time.monotonic() - started < 2.0, "the pool's processes outlived the cancel"
        time.sleep(0.05)
    raw.send({"id": "after", "op": "ping"})
    assert raw.until_done("after")[-1]["event"] == "result"


def test_a_rebuild_removes_what_the_previous_build_wrote_and_nothing_else(raw, tmp_path):
    from test_worker import MINI_SCENE

    spec = tmp_path / "mini.json"
    spec.write_text(json.dumps(dict(MINI_SCENE, outputs={"image": "render.png", "glb": "mini.glb", "depth": "depth.png"})))
    out = tmp_path / "out"
    params = {"scene": str(spec), "out_dir": str(out), "cache": str(tmp_path / "cache")}
    raw.send({"id": "a", "op": "build_scene", "params": params})
    first = raw.until_done("a")[-1]
    assert first["event"] == "result" and first["result"]["name"] == "mini", first
    assert (out / "depth.png").is_file()
    (out / "notes.txt").write_text("mine")
    spec.write_text(json.dumps(dict(MINI_SCENE, outputs={"image": "render.png", "glb": "mini.glb"})))
    raw.send({"id": "b", "op": "build_scene", "params": params})
    assert raw.until_done("b")[-1]["event"] == "result"
    assert not (out / "depth.png").exists() and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / ".scenegen-build.json").read_text())["scene"] == str(spec)
