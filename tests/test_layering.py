"""The package's layering (issue 12): no import cycles, no imports of another module's private names."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)


def test_the_import_graph_has_no_cycle_and_no_private_imports():
    graph, private = import_graph.imports()
    _, cyclic = import_graph.layers(graph)
    assert "transformer_edu.block" in graph and len(graph) > 40  # the walk found the package
    assert cyclic == []
    assert private == []


def test_the_check_finds_a_cycle_and_a_private_import(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import helper\n")
    (package / "b.py").write_text("def helper():\n    from .a import _secret\n")
    graph, private = import_graph.imports(package)
    _, cyclic = import_graph.layers(graph)
    assert cyclic == ["pkg.a", "pkg.b"]
    assert private == ["pkg.b imports _secret from pkg.a"]
