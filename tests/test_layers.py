"""The package's layering, as minie5/__init__.py states it: a module imports only from its own
layer and the layers above it, so the library never imports a front end, and the reference never
imports the engine. Every import counts, those inside functions too."""

import ast
from pathlib import Path

import minie5

PACKAGE = Path(minie5.__file__).parent
# Top to bottom; units on one line are siblings and may not import each other.
LAYERS = [
    ["errors"],
    ["files"],
    ["jit_cache", "progress"],
    ["loading"],
    ["reference"],
    ["engine"],
    ["families"],
    ["encode"],
    ["porting"],
    ["st_compat"],
    ["model"],
    ["causal_reranker"],
    ["describe", "corpus", "evaluation", "cross_encoder"],
    ["sparse", "multi_vector"],
    ["batch_embedder"],
    ["integrations"],
    ["server", "distributed"],
    ["cli"],
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str | None:
    """"minie5.encode.prompts" -> "encode"; None for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every minie5 import in a file."""
    parts = ["minie5", *path.relative_to(PACKAGE).with_suffix("").parts]
    package = parts[:-1]  # what a relative import counts from: the module's package
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("minie5")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("minie5"):
                # `from . import x` names submodules: count each
                names = [f"{target}.{a.name}" for a in node.names] if target == "minie5" else [target]
                found += [(node.lineno, name) for name in names]
    return found


def test_every_unit_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p / "__init__.py").exists()) and p.stem not in ("__init__", "__main__")}
    assert units == set(RANK), f"units without a layer: {units - set(RANK)}; layers without a unit: {set(RANK) - units}"


def test_imports_go_only_up_the_layers():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = unit_of(".".join(("minie5", *path.relative_to(PACKAGE).with_suffix("").parts)))
        if unit in (None, "__init__", "__main__"):
            continue
        for line, target in imports(path):
            other = unit_of(target)
            if other is None or other == "__version__" or other == unit:
                continue
            if RANK[other] >= RANK[unit]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({unit}) imports {target} ({other})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)
