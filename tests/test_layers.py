"""The layers of ``scenegen/``: every import points down (or sideways), and nothing imports in a circle.

The imports of every module are read from its source (``ast``), including those inside functions and under
``if TYPE_CHECKING:``, since a lazy import is a dependency all the same. ``import a.b`` and ``from a.b import
c`` depend on the module ``a.b`` (on ``a.b.c`` when that is a module); the implicit import of a package's
``__init__`` by its submodules is not counted. Layers, top to bottom (README, "Architecture"):

==========  ===========================================================================================
faces       ``scenegen.__main__``, ``cli``, ``commands``, ``worker``: parse, report, relay
pipelines   ``build`` (scene builds: the cached asset service, then ``scene``), ``export`` (library export)
api         ``sprite_gen``, ``api``: validate inputs, call the model layer's pipelines
products    ``scene``, ``materials``, ``material_files``, ``glb``, ``preview``, ``sprites``: pixels and geometry
            from finished assets, no model
model       ``model``: the VAE, its priors, training, sampling, weights
data        ``data``: built-in corpora, user folders
ground      ``scenegen`` (the package: its version), ``imaging``, ``metrics``, ``fsutil``, ``errors``,
            ``cache``, ``reuse``, ``limits``
==========  ===========================================================================================

A module may import modules of its own layer or of any layer below. Modules of one layer that import each
other must do so one way only: no cycle between modules, and none between the components of a layer (a
top-level module, or a subpackage taken as a whole). On top of the order, ``scene`` never reaches a model,
torch, ``api`` or ``sprite_gen``, not even through other modules: it is given finished assets.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "scenegen"

#: Top to bottom. A name covers that module and, for a package, everything inside it; the bare package
#: ``scenegen`` stands for ``scenegen/__init__.py`` only.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("faces", ("scenegen.__main__", "scenegen.cli", "scenegen.commands", "scenegen.worker")),
    ("pipelines", ("scenegen.build", "scenegen.export")),
    ("api", ("scenegen.sprite_gen", "scenegen.api")),
    ("products", ("scenegen.scene", "scenegen.materials", "scenegen.material_files", "scenegen.glb",
                  "scenegen.preview", "scenegen.sprites")),
    ("model", ("scenegen.model",)),
    ("data", ("scenegen.data",)),
    ("ground", ("scenegen", "scenegen.imaging", "scenegen.metrics", "scenegen.fsutil", "scenegen.errors",
                "scenegen.cache", "scenegen.reuse", "scenegen.limits")),
]

#: What ``scenegen.scene`` must never reach, directly or through any chain of imports.
SCENE_FORBIDDEN = ("scenegen.model", "scenegen.api", "scenegen.sprite_gen", "scenegen.build", "scenegen.export")
SCENE_FORBIDDEN_THIRD_PARTY = ("torch", "safetensors")


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported scenegen module, or a third-party top-level name
    line: int
    internal: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """Every import statement of one module (at any depth of its syntax tree), resolved to module names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def add(target: str, line: int) -> None:
        top = target.split(".")[0]
        if top != "scenegen":
            found.append(Import(name, top, line, internal=False))
            return
        while target not in known and "." in target:  # `import scenegen.x.attr` style: the module that holds it
            target = target.rpartition(".")[0]
        found.append(Import(name, target, line, internal=True))

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "__future__":
                continue
            for alias in node.names:  # `from pkg import submodule` depends on the submodule
                sub = f"{module}.{alias.name}"
                add(sub if sub in known else module, node.lineno)
    return found


def layer_of(module: str) -> tuple[int, str] | None:
    best: tuple[int, int, str] | None = None  # (length of the matching name, rank, layer)
    for rank, (layer, names) in enumerate(LAYERS):
        for covered in names:
            exact_only = covered == "scenegen"
            if module == covered or (not exact_only and module.startswith(covered + ".")):
                if best is None or len(covered) > best[0]:
                    best = (len(covered), rank, layer)
    return (best[1], best[2]) if best else None


def component_of(module: str) -> str:
    """``scenegen.scene.compose`` → ``scenegen.scene``; ``scenegen.api`` → itself; ``scenegen`` → itself."""
    return ".".join(module.split(".")[:2])


def graph() -> tuple[dict[str, Path], list[Import]]:
    mods = modules()
    known = set(mods)
    edges = [imp for name, path in mods.items() for imp in imports_of(name, path, known)]
    return mods, edges


def cycles(nodes: set[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in sorted(edges):
        if a != b:
            succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def where(imp: Import, mods: dict[str, Path]) -> str:
    return f"{mods[imp.source].relative_to(PACKAGE.parent)}:{imp.line}"


# ------------------------------------------------------------------------------------------------- tests
def test_every_module_has_a_layer_and_every_import_resolves():
    mods, edges = graph()
    unplaced = sorted(m for m in mods if layer_of(m) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS in {Path(__file__).name}): {unplaced}"
    unknown = sorted(f"{where(i, mods)}: {i.target}" for i in edges if i.internal and i.target not in mods)
    assert not unknown, "imports of scenegen modules that do not exist:\n" + "\n".join(unknown)


def test_no_upward_import():
    mods, edges = graph()
    upward = []
    for imp in edges:
        if not imp.internal or imp.target not in mods:
            continue
        (src_rank, src_layer), (dst_rank, dst_layer) = layer_of(imp.source), layer_of(imp.target)
        if dst_rank < src_rank:
            upward.append(f"{where(imp, mods)}: {imp.source} ({src_layer}) imports {imp.target} ({dst_layer})")
    assert not upward, "upward imports (a lower layer importing a higher one):\n" + "\n".join(sorted(upward))


def test_no_cycle_between_modules():
    mods, edges = graph()
    found = cycles(set(mods), {(i.source, i.target) for i in edges if i.internal and i.target in mods})
    assert not found, "import cycles between modules:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_no_cycle_between_components_or_layers():
    mods, edges = graph()
    pairs = {(component_of(i.source), component_of(i.target)) for i in edges if i.internal and i.target in mods}
    found = cycles({component_of(m) for m in mods}, pairs)
    assert not found, ("import cycles between packages/modules (each may use the other only one way):\n"
                       + "\n".join(" ↔ ".join(c) for c in found))


def test_scene_never_reaches_a_model_torch_or_the_api():
    mods, edges = graph()
    out: dict[str, list[Import]] = {}
    for imp in edges:
        out.setdefault(imp.source, []).append(imp)
    problems = []
    for start in sorted(m for m in mods if m == "scenegen.scene" or m.startswith("scenegen.scene.")):
        seen = {start: [start]}  # module → the chain of imports that reaches it
        todo = [start]
        while todo:
            current = todo.pop()
            for imp in out.get(current, []):
                chain = seen[current] + [imp.target]
                banned = (not imp.internal and imp.target in SCENE_FORBIDDEN_THIRD_PARTY) or (
                    imp.internal and any(imp.target == f or imp.target.startswith(f + ".") for f in SCENE_FORBIDDEN))
                if banned:
                    problems.append(f"{where(imp, mods)}: " + " → ".join(chain))
                elif imp.internal and imp.target in mods and imp.target not in seen:
                    seen[imp.target] = chain
                    todo.append(imp.target)
    assert not problems, ("scenegen.scene must not reach a model, torch, api or sprite_gen (it is given finished "
                          "assets by scenegen.build):\n" + "\n".join(sorted(set(problems))))


def test_the_checks_see_lazy_imports_and_catch_an_upward_one(tmp_path):
    """The parser itself: an import inside a function counts, relative imports resolve, an upward one is named."""
    src = tmp_path / "scenegen" / "scene" / "probe.py"
    src.parent.mkdir(parents=True)
    src.write_text("from .. import errors\n\ndef f():\n    from ..api import load_model\n    import torch\n")
    known = set(modules()) | {"scenegen.scene.probe"}
    found = {(i.target, i.line) for i in imports_of("scenegen.scene.probe", src, known)}
    assert found == {("scenegen.errors", 1), ("scenegen.api", 4), ("torch", 5)}
    assert layer_of("scenegen.scene.probe")[1] == "products" and layer_of("scenegen.api")[1] == "api"
    assert layer_of("scenegen.api")[0] < layer_of("scenegen.scene.probe")[0]  # so scene → api is upward
