"""Training from a user folder: skips bad files, writes samples, resumes exactly after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from scenegen.data.patches import load_patch_set
from scenegen.errors import ScenegenError

ARGS = ["--steps", "6", "--batch", "4", "--crop", "64", "--checkpoint-every", "2", "--sample-every", "3", "--quiet"]


def test_folder_reader_handles_formats_and_skips_bad_files(photo_folder: Path) -> None:
    with pytest.warns(UserWarning, match="skipped 2 file"):
        patches = load_patch_set(photo_folder, min_size=128)
    assert patches.classes == ("brick", "grass", "gravel")
    assert len(patches.images) == 21
    assert all(img.shape[2] == 3 and img.dtype.name == "float32" for img in patches.images)


def test_empty_class_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "stone").mkdir()
    with pytest.raises(ScenegenError, match="class 'stone' has no usable image"):
        load_patch_set(tmp_path)
    result = run_cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--steps", "2")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_train_writes_model_samples_and_warns(photo_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = run_cli("train", "--data", str(photo_folder), "--out", str(out), *ARGS)
    assert result.returncode == 0, result.stderr
    assert "warning: skipped 2 file(s)" in result.stderr and "broken.png" in result.stderr
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == ["step-0000003.png", "step-0000006.png"]
    info = run_cli("info", str(out))
    assert "3: brick, grass, gravel" in info.stdout
    again = run_cli("train", "--data", str(photo_folder), "--out", str(out), *ARGS)
    assert again.returncode == 2 and "--resume" in again.stderr


def test_kill_then_resume_matches_uninterrupted_run(photo_folder: Path, tmp_path: Path) -> None:
    args = ["--steps", "8", "--batch", "4", "--crop", "64", "--checkpoint-every", "2", "--sample-every", "100", "--quiet"]
    straight = tmp_path / "straight"
    assert run_cli("train", "--data", str(photo_folder), "--out", str(straight), *args).returncode == 0

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "scenegen", "train", "--data", str(photo_folder), "--out", str(killed), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list((killed / "checkpoints").glob("step-0000004.json")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "model.safetensors").exists(), "run finished before it could be killed"
    resumed = run_cli("train", "--data", str(photo_folder), "--out", str(killed), *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "model.safetensors").read_bytes() == (straight / "model.safetensors").read_bytes()
    assert (killed / "prior.safetensors").read_bytes() == (straight / "prior.safetensors").read_bytes()


@pytest.mark.slow
def test_torchrun_ddp_trains_on_two_processes(photo_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "scenegen", "train", "--data", str(photo_folder), "--out", str(out),
           "--steps", "2", "--batch", "4", "--crop", "64", "--checkpoint-every", "2", "--sample-every", "2", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    info = run_cli("info", str(out), "--json")
    assert '"processes": 2' in info.stdout


def test_init_from_fine_tunes_an_existing_model_and_refuses_a_different_one(photo_folder: Path, tiny_model: Path,
                                                                             tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    out = tmp_path / "tuned"
    result = run_cli("train", "--data", str(photo_folder), "--out", str(out), "--init-from", str(tiny_model),
                     "--upsample", "nearest", "--lr", "1e-12", "--steps", "1", "--batch", "4", "--crop", "64", "--quiet")
    assert result.returncode == 0, result.stderr
    start, tuned = load_file(tiny_model / "model.safetensors"), load_file(out / "model.safetensors")
    assert max(float(abs(start[k] - tuned[k]).max()) for k in start) < 1e-6, "weights come from --init-from"
    assert '"upsample": "nearest"' in (out / "config.json").read_text()
    sprites = Path(__file__).resolve().parent.parent / "assets" / "models" / "sprites"
    refused = run_cli("train", "--data", str(photo_folder), "--out", str(tmp_path / "x"), "--init-from", str(sprites),
                      "--steps", "1", "--crop", "64", "--quiet")
    assert refused.returncode == 2 and "cannot start from this model" in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if not line.startswith("warning: skipped")]
    assert "Traceback" not in refused.stderr and len(errors) == 1 and errors[0].startswith("error: ")


def test_training_fine_tunes_the_shipped_model_by_default(photo_folder: Path, default_model_dir: Path,
                                                          tmp_path: Path) -> None:
    """`train --data DIR` starts from the shipped model (architecture kept, classes matched by name: a class
    it does not know starts from its 'any' condition); `--from-scratch` draws new weights."""
    import json
    import shutil

    from safetensors.numpy import load_file

    data = tmp_path / "data"
    shutil.copytree(photo_folder / "brick", data / "brick")
    shutil.copytree(photo_folder / "grass", data / "mossy")
    args = ["--data", str(data), "--lr", "1e-12", "--steps", "1", "--batch", "4", "--crop", "64"]  # not --quiet: the summary line
    tuned_dir, scratch_dir = tmp_path / "tuned", tmp_path / "scratch"
    result = run_cli("train", *args, "--out", str(tuned_dir))
    assert result.returncode == 0, result.stderr
    assert "fine-tuned from" in result.stderr
    scratch = run_cli("train", *args, "--out", str(scratch_dir), "--from-scratch")
    assert scratch.returncode == 0 and "trained from scratch" in scratch.stderr
    shipped, tuned = load_file(default_model_dir / "model.safetensors"), load_file(tuned_dir / "model.safetensors")
    fresh = load_file(scratch_dir / "model.safetensors")
    key = "decoder.embedding.weight"
    assert all(np.abs(shipped[k] - tuned[k]).max() < 1e-6 for k in shipped if k != key)
    assert any(k not in fresh or fresh[k].shape != shipped[k].shape or np.abs(shipped[k] - fresh[k]).max() > 0.05
               for k in shipped if k != key), "--from-scratch must not start from the shipped weights"
    classes = json.loads((default_model_dir / "config.json").read_text())["model"]["classes"]
    any_row = shipped[key][len(classes)]
    np.testing.assert_allclose(tuned[key][0], shipped[key][classes.index("brick")], atol=1e-6)
    np.testing.assert_allclose(tuned[key][1], any_row, atol=1e-6)  # 'mossy' is new: starts from 'any'
    np.testing.assert_allclose(tuned[key][2], any_row, atol=1e-6)


@pytest.mark.parametrize("flag, value", [("--kl-weight", "-1"), ("--gram-weight", "nan"), ("--fft-weight", "inf")])
def test_loss_weights_must_be_finite_and_non_negative(flag: str, value: str, tmp_path: Path) -> None:
    result = run_cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), flag, value, "--steps", "1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {flag} must be a finite number ≥ 0, got {value}"
    assert not (tmp_path / "m").exists()


def test_adversarial_training_checkpoints_its_critic_and_resumes_exactly(photo_folder: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """With --adv-weight the patch critic and its optimiser are checkpointed (a resume continues both exactly);
    the shipped model directory holds the VAE only."""
    import shutil

    from safetensors.numpy import load_file

    import scenegen.model.train as training
    from scenegen.model.config import TrainConfig

    monkeypatch.setattr(training, "ADV_WARMUP", 1)  # the decoder feels the critic from step 2 of 4
    tcfg = TrainConfig(steps=4, batch=4, lr=1e-3, adv_weight=0.5, adv_start=0, checkpoint_every=2, sample_every=100)
    straight = tmp_path / "straight"
    training.train(photo_folder, straight, tcfg=tcfg, crop_size=64, init_from=None, architecture={})
    ckpt = load_file(straight / "checkpoints" / "step-0000002.safetensors")
    assert any(k.startswith("disc.") for k in ckpt) and any(k.startswith("discopt.") for k in ckpt)
    assert not any(k.startswith("disc") for k in load_file(straight / "model.safetensors"))
    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    for suffix in (".json", ".safetensors"):
        shutil.copy(straight / "checkpoints" / f"step-0000002{suffix}", resumed / "checkpoints")
    training.train(photo_folder, resumed, tcfg=tcfg, crop_size=64, resume=True, architecture={})
    assert (resumed / "model.safetensors").read_bytes() == (straight / "model.safetensors").read_bytes()
    no_critic = tmp_path / "plain"
    training.train(photo_folder, no_critic, tcfg=TrainConfig(steps=4, batch=4, lr=1e-3, checkpoint_every=2,
                                                             sample_every=100), crop_size=64, architecture={})
    assert (no_critic / "model.safetensors").read_bytes() != (straight / "model.safetensors").read_bytes()


def test_decoder_blocks_grow_a_model_that_starts_as_its_source(photo_folder: Path, tmp_path: Path) -> None:
    """`--decoder-blocks 2 --init-from M`: the new residual blocks start as the identity, so the grown model decodes
    exactly as M before training moves it; the count is recorded in config.json; fewer blocks than M is refused."""
    import json

    import torch

    from scenegen.model.weights import load_model_dir

    tiny_model = tmp_path / "one-block"  # one block per level (the shipped model has two since 0.6.0)
    base = ["--data", str(photo_folder), "--steps", "1", "--batch", "4", "--crop", "64", "--quiet"]
    assert run_cli("train", *base, "--out", str(tiny_model), "--from-scratch").returncode == 0
    out = tmp_path / "grown"
    args = [*base, "--init-from", str(tiny_model)]
    result = run_cli("train", *args, "--out", str(out), "--decoder-blocks", "2", "--lr", "1e-12")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "config.json").read_text())["model"]["decoder_blocks"] == 2
    source, grown = load_model_dir(tiny_model), load_model_dir(out)
    assert len(grown.vae.decoder.level_blocks(0)) == 2 and len(source.vae.decoder.level_blocks(0)) == 1
    z = torch.randn(1, source.config.latent_channels, 6, 6, generator=torch.Generator().manual_seed(1))
    cond = source.vae.decoder.condition_map(torch.tensor([0]), 6, 6)
    with torch.no_grad():
        assert torch.allclose(source.vae.decoder(z, cond), grown.vae.decoder(z, cond), atol=1e-5)
    shrunk = run_cli("train", *args, "--out", str(tmp_path / "shrunk"), "--init-from", str(out), "--decoder-blocks", "1")
    assert shrunk.returncode == 2 and "decoder_blocks" in shrunk.stderr and "Traceback" not in shrunk.stderr


def test_device_that_this_machine_lacks_is_one_line(photo_folder: Path, tmp_path: Path) -> None:
    """`--device` names where the steps run; one this torch cannot use is refused before training, in one line."""
    import torch

    args = ["--data", str(photo_folder), "--steps", "1", "--batch", "4", "--crop", "64", "--quiet"]
    bogus = run_cli("train", *args, "--out", str(tmp_path / "a"), "--device", "toaster")
    assert bogus.returncode == 2 and "unknown device" in bogus.stderr and "Traceback" not in bogus.stderr
    if not torch.cuda.is_available():
        missing = run_cli("train", *args, "--out", str(tmp_path / "b"), "--device", "cuda")
        assert missing.returncode == 2 and "not available on this machine" in missing.stderr
        assert len([line for line in missing.stderr.splitlines() if line.startswith("error")]) == 1
    assert not (tmp_path / "a" / "checkpoints").exists()
