"""Training on a user folder: wall seconds of ``scenegen train --steps 200`` on ~20 photos in 3 classes.

The folder is the one the tests use (tests/photo_folder.py: scikit-image's brick/grass/gravel photos, tinted
and cropped, mixed sizes and formats, one corrupt and one tiny file). Runs the real command in a fresh process
(start-up, data loading, prior fitting included), then ``scenegen info`` on the result. Prints the figures
and one JSON line. Usage:
    python benchmarks/train.py [--steps 200] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from photo_folder import make_photo_folder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = make_photo_folder(Path(tmp) / "photos")
        images = sum(1 for p in data.rglob("*") if p.is_file())
        out = Path(tmp) / "model"
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "scenegen", "train", "--data", str(data), "--out", str(out),
               "--steps", str(args.steps), "--batch", str(args.batch), "--quiet"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        info = subprocess.run([sys.executable, "-m", "scenegen", "info", str(out)], capture_output=True, text=True, check=True)
        grids = len(list((out / "samples").glob("*.png")))
    print(info.stdout.splitlines()[1])
    figures = {"benchmark": "train", "steps": args.steps, "batch": args.batch, "files": images, "train_s": round(wall, 1),
               "sample_grids": grids, "cores": os.cpu_count()}
    print(f"scenegen train --steps {args.steps} --batch {args.batch} on {images} files: {wall:.1f} s "
          f"({grids} sample grids, {os.cpu_count()} cores)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
