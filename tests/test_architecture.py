"""The layering of docs/architecture.md, checked on the code: imports point down, never up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "xpnet"

#: Each module (or package) and the xpnet modules it may import. A module may
#: always import from inside its own package.
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "errors": set(),
    "_typing": set(),
    "_launch": set(),
    "_validation": {"_typing", "errors"},
    "_npz": {"errors"},
    "_io": {"errors", "_npz"},
    "_memory": {"errors"},
    "backend": {"_typing", "_validation", "_memory", "errors"},
    "random": {"_typing", "_validation", "errors", "backend"},
    "batching": {"_typing", "_validation", "errors", "backend", "random"},
    "functions": {"_typing", "_validation", "errors", "backend"},
    "differences": {"_typing", "_validation", "errors", "backend"},
    "gradient": {"_typing", "_validation", "errors", "backend", "differences"},
    "layers": {"_typing", "_validation", "errors", "backend", "random", "functions"},
    "numgrad": {"_typing", "_validation", "errors", "backend", "functions"},
    "optim": {"_typing", "_validation", "errors", "backend"},
    "checking": {"_typing", "_validation", "errors", "backend", "random", "gradient", "differences"},
    "testing": {"_typing", "_validation", "errors", "backend", "checking"},
    "nets": {
        "_typing", "_validation", "_io", "_memory", "errors", "backend", "random", "functions",
        "differences", "gradient", "layers", "numgrad", "checking",
    },
    "datasets": {"_typing", "_validation", "_io", "errors", "backend"},
    "training": {
        "_typing", "_validation", "_io", "_memory", "errors", "backend", "random", "batching",
        "optim", "nets",
    },
    "sweep": {
        "_version", "_typing", "_validation", "_io", "_memory", "errors", "backend", "random", "nets",
        "datasets", "training", "optim",
    },
    "plot": {
        "_typing", "_validation", "_io", "errors", "backend", "random", "functions",
        "differences", "gradient", "layers", "optim", "nets", "training", "sweep",
    },
    "book": {
        "_typing", "_validation", "errors", "backend", "random", "batching", "functions",
        "gradient", "layers", "optim", "nets", "datasets", "training",
    },
    "cli": {
        "_launch", "_version", "_typing", "_validation", "_io", "_memory", "errors", "backend",
        "random", "checking", "layers", "nets", "datasets", "training", "plot", "optim",
        "differences", "batching", "sweep", "book",
    },
}  # fmt: skip
#: Modules of the top-level package itself (re-exports only) and `python -m xpnet`.
ENTRY_POINTS = {"__init__", "__main__"}
LIBRARIES = ("numpy", "cupy", "torch", "jax", "array_api_strict")

pytestmark = pytest.mark.backend_independent


def top_level(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def xpnet_imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported top-level xpnet module, names imported, line) for each relative import."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 for xpnet/x.py
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = list(path.relative_to(PACKAGE).parts[:-1])[: depth - (node.level - 1)]
            target = [*parts, *(node.module.split(".") if node.module else [])]
            names = [alias.name for alias in node.names]
            if not target:  # `from . import x` in the package itself
                found += [(name, [], node.lineno) for name in names]
            else:
                found.append((target[0], names, node.lineno))
    return found


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path: Path) -> None:
    layer = top_level(path)
    if layer in ENTRY_POINTS or path.name == "__main__.py":  # `python -m xpnet.book` runs the CLI
        return
    assert layer in ALLOWED, f"{layer} has no row in the layering table"
    for target, _, line in xpnet_imports(path):
        if target != layer:
            assert target in ALLOWED[layer], f"{path.name}:{line} imports {target} (a higher layer)"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_crosses_a_module(path: Path) -> None:
    """An underscored function or class is private to its module (private modules are fine)."""
    for target, names, line in xpnet_imports(path):
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if target != top_level(path):
            assert not private, f"{path.name}:{line} imports {private} from {target}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_names_are_compared_only_in_backend(path: Path) -> None:
    """No `if name == "torch"` outside xpnet/backend/: the registry knows the libraries."""
    if top_level(path) == "backend":
        return
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            constants = [
                c.value
                for c in [node.left, *node.comparators]
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            ]
            for value in constants:
                assert value not in LIBRARIES, f"{path.name}:{node.lineno} compares with {value!r}"


def test_the_table_is_the_documented_one() -> None:
    """docs/architecture.md lists the same layers, in the same order as this table."""
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    positions = [doc.find(f"`{name}`") for name in ALLOWED]
    missing = [name for name, at in zip(ALLOWED, positions, strict=True) if at < 0]
    assert not missing, f"docs/architecture.md does not mention {missing}"


# -- size and shape ------------------------------------------------------------------------

#: No module may grow past this many lines (STYLE: about 300).
MAX_LINES = 350


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_350_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines; split it"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the xpnet modules it imports (relative imports, at any depth in the file)."""
    names = {module_name(p): p for p in modules()}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        if name == "":
            package = []
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - (node.level - 1)]
                module = [*base, *(node.module.split(".") if node.module else [])]
                for alias in node.names if not node.module else [None]:
                    target = ".".join(module if alias is None else [*module, alias.name])
                    while target and target not in names:
                        target = target.rpartition(".")[0]
                    if target != name:
                        targets.add(target)
        graph[name] = targets
    return graph


def test_no_two_modules_import_each_other() -> None:
    """No import cycle between xpnet's modules (a package may re-export what it holds)."""
    graph = import_graph()

    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return [*path, start]
                # Importing a package's own submodules, or a package from inside it, is layering
                if nxt not in seen and not _is_reexport(node, nxt):
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for c in map(cycle_from, graph) if c]
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


def _is_reexport(importer: str, imported: str) -> bool:
    """A package (``__init__``) importing one of its own submodules, or any module
    importing an ancestor package of itself, is not a dependency that can loop."""
    return (
        imported.startswith(importer + ".")
        or importer.startswith(imported + ".")
        or (importer == "" or imported == "")
    )
