"""The package's layers (README "Layout"): no module imports one of a higher layer, and no two
modules import each other, directly or round a longer loop (lazy imports inside functions count:
a cycle is a design knot whether or not Python trips on it)."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dwpose_core"

# Bottom to top. A module may import its own layer or lower ones.
LAYERS = [
    ("data model", {"errors", "skeleton", "types"}),
    ("file readers and formats", {"checkpoints", "files", "formats"}),
    ("pose maths", {"temporal", "selection", "render", "editor", "animate"}),
    ("models and their files", {"torch_models", "hub"}),
    ("stages and backends", {"backends", "stages"}),
    ("the job", {"pipeline", "estimator_pool", "annotate", "file_annotation"}),
    ("front ends", {"cli", "batch", "__main__"}),
]
LAYER_OF = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = path.relative_to(PKG).with_suffix("").parts
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module a dotted name (relative to the package) refers to: itself, its package's
    __init__, or None when it is not ours."""
    while name:
        if name in MODULES:
            return name
        if f"{name}.__init__" in MODULES:
            return f"{name}.__init__"
        name = name.rpartition(".")[0]
    return None


def _imports(mod: str) -> set[str]:
    tree = ast.parse(MODULES[mod].read_text())
    package = mod.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                prefix = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "dwpose_core":
                prefix = node.module.partition(".")[2]
            else:
                continue
            for alias in node.names:
                target = _resolve(f"{prefix}.{alias.name}" if prefix else alias.name)
                if target is None or target.endswith("__init__") and prefix and _resolve(prefix) != target:
                    target = _resolve(prefix)
                if target:
                    found.add(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "dwpose_core":
                    target = _resolve(alias.name.partition(".")[2])
                    if target:
                        found.add(target)
    found.discard(mod)
    return found


GRAPH = {mod: _imports(mod) for mod in MODULES}


def _unit(mod: str) -> str:
    return mod.split(".")[0]


def _layer(mod: str) -> int | None:
    return LAYER_OF.get(_unit(mod))


def test_every_folder_and_root_module_has_a_layer():
    units = {_unit(m) for m in MODULES if m != "__init__"}
    assert units <= set(LAYER_OF), sorted(units - set(LAYER_OF))


def test_the_root_holds_at_most_ten_modules():
    assert len([p for p in PKG.glob("*.py")]) <= 10


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if _layer(m) is not None))
def test_no_module_imports_a_higher_layer(mod):
    upward = sorted(t for t in GRAPH[mod] if (_layer(t) or 0) > _layer(mod) and t != "__init__")
    assert not upward, f"{mod} ({LAYERS[_layer(mod)][0]}) imports {upward}"


def test_the_torch_models_read_weights_without_the_hub():
    assert not any(_unit(t) == "hub" for m in MODULES if _unit(m) == "torch_models" for t in GRAPH[m])


def test_no_import_cycles():
    # Tarjan's strongly connected components, iteratively; package __init__ re-exports are
    # edges too (importing a package runs its __init__).
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]

    def visit(root):
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        cycles.append(sorted(comp))

    for mod in sorted(GRAPH):
        if mod not in index:
            visit(mod)
    assert not cycles, cycles
