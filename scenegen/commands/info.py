"""``scenegen info``: describe a model directory (verifying its hashes; torch is not imported)."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from ..api import model_info

    info = model_info(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"model       {info['path']}  ({info['mode']})")
    print(f"classes     {len(info['classes'])}: {', '.join(info['classes'])}")
    parameters = info["parameters"]
    print(f"parameters  {parameters:,}" if isinstance(parameters, int) else f"parameters  {str(parameters)[:40]}")
    print(f"latent      {info['latent']['channels']} channels, {info['latent']['pixels_per_cell']} px per cell")
    print(f"sizes       {info['sizes']['min']}–{info['sizes']['max']} px")
    print(f"model hash  {info['model_hash']}")
    print(f"identity    {info['identity']}  (SHA-256 of config.json: what cache keys hold)")
    for name, entry in info["files"].items():
        print(f"file        {name}  {entry['bytes']:,} bytes  sha256 {entry['sha256']}")
    if info["training"]:
        print("training    " + ", ".join(f"{k}={v}" for k, v in info["training"].items()))
    if info["metrics"]:
        print("metrics     " + ", ".join(f"{k}={v}" for k, v in info["metrics"].items()))
    if info["command"]:
        print(f"command     {info['command']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a model: classes, parameters, sizes, hashes")
    p.add_argument("model", nargs="?", default=None, help="model directory (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print the description as one JSON object")
    p.set_defaults(handler=run)
