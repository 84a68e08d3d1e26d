"""The Khronos glTF-Validator (npm ``gltf-validator``, installed at the repository root) for tests.

``validate_gltf(path)`` returns the validator's ``issues`` object (numErrors, numWarnings, messages…);
``validator_available()`` says whether node and the package are there (tests skip otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VALIDATE_JS = (
    "const fs=require('fs');const v=require('gltf-validator');"
    "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])),{maxIssues:200})"
    ".then(r=>console.log(JSON.stringify(r.issues))).catch(e=>{console.error(String(e));process.exit(1);});"
)


def validator_available() -> str | None:
    """None when the validator can run, else why not."""
    if shutil.which("node") is None:
        return "node is not installed: the glTF-Validator runs on Node.js"
    if not (ROOT / "node_modules" / "gltf-validator").is_dir():
        return "node_modules/gltf-validator missing: run `npm ci` in the repository root (make test does)"
    return None


def validate_gltf(path: str | os.PathLike[str]) -> dict:
    """Run the validator on a .glb/.gltf file and return its issues report."""
    env = dict(os.environ, NODE_PATH=str(ROOT / "node_modules"))
    result = subprocess.run([shutil.which("node") or "node", "-e", VALIDATE_JS, str(path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"glTF-Validator failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def describe(issues: dict, limit: int = 20) -> str:
    """The first messages of a report, one per line (for assertion messages)."""
    lines = [f"severity {m['severity']} {m['code']} at {m.get('pointer', '')}: {m['message']}"
             for m in issues.get("messages", [])[:limit]]
    return "\n".join(lines)
