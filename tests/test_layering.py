"""The layering (README "Layout": irn < dashboards < bench, search_spaces read by bench): `irn`
never imports bench, dashboards, ray, mlflow or plotly; no module imports a higher folder; the
import graph of all four folders, imports inside functions included, has no cycle."""
import subprocess
import sys


def test_irn_imports_no_harness_packages():
    code = ("import sys, irn, irn.train, irn.evaluate, irn.metric_registry, irn.crops, "
            "irn.rescale, irn.checkpoint, irn.jpeg, irn.losses, irn.data, irn.config, "
            "irn.analysis, irn.storage, irn.stats.compare, irn.stats.pooled\n"
            "bad = [m for m in ('bench', 'dashboards', 'ray', 'mlflow', 'plotly') "
            "if m in sys.modules]\nprint(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_dashboards_import_no_bench():
    # the layers run irn < bench < dashboards' caller: bench attaches the report, so the
    # report reads summaries and irn's statistics, never bench
    code = ("import sys, dashboards.build\n"
            "print(','.join(m for m in sys.modules if m == 'bench' or m.startswith('bench.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- the import graph of every folder, from the source (imports inside functions included) ---
import ast  # noqa: E402
from pathlib import Path  # noqa: E402

import networkx as nx  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RANK = {"irn": 0, "dashboards": 1, "search_spaces": 1, "bench": 2}  # nothing imports upward


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every dotted name an import statement anywhere in the tree names ("from a import b"
    gives a and a.b: b may be a submodule)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> nx.DiGraph:
    files = {_module_name(p): p for folder in RANK for p in (ROOT / folder).rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for module, path in files.items():
        for name in _imported(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            while name and name not in files:  # a.b.func -> a.b
                name = name.rpartition(".")[0]
            if name and name != module:
                graph.add_edge(module, name)
    return graph


def test_no_folder_imports_upward():
    upward = [(a, b) for a, b in import_graph().edges
              if RANK[b.split(".")[0]] > RANK[a.split(".")[0]]]
    assert upward == []


def test_no_import_cycles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert cycles == []


def test_the_graph_sees_imports_inside_functions(tmp_path):
    # the check must fail on a cycle hidden in a function, the way irn.config's once was
    tree = ast.parse("def f():\n    from irn.model import build_model\n")
    assert "irn.model" in _imported(tree, "irn.config", False)
    tree = ast.parse("from . import model\nfrom .data import samples\n")
    assert {"irn.model", "irn.data.samples"} <= _imported(tree, "irn.config", False)


# bench's products (bench/__init__.py): common < speed, gate, evaluate < sweep, analyze <
# the one-line command aliases at bench/'s top; no product imports one beside it or above it
BENCH_RANK = {"common": 0, "speed": 1, "gate": 1, "evaluate": 1, "sweep": 2, "analyze": 2}


def _bench_part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "bench" and len(parts) > 1 else None


def test_bench_products_import_only_below_them():
    graph = import_graph()
    rank = {m: BENCH_RANK.get(_bench_part(m), 3) for m in graph if _bench_part(m)}
    bad = [(a, b) for a, b in graph.edges if a in rank and b in rank
           and _bench_part(a) != _bench_part(b) and rank[b] >= rank[a]]
    assert bad == []
    aliases = [m for m in rank if rank[m] == 3]
    assert aliases and all(graph.in_degree(m) == 0 for m in aliases)  # nothing imports an alias
