"""``scenegen schema``: print the JSON Schema of scene.json (for editor completion and validation)."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from ..scene.spec import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of scene files")
    p.set_defaults(handler=run)
