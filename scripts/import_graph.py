"""The package's import graph, read from its source with ast: which module imports which (module-level and
function-level imports alike), in layers from the bottom (modules that import no other package module) up.

Exits with status 1, naming them, if the graph has a cycle or a module imports another module's private
(underscore) name. tests/test_layering.py runs the same checks.

    .venv/bin/python scripts/import_graph.py
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "transformer_edu"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(package: Path = PACKAGE) -> tuple[dict[str, set[str]], list[str]]:
    """({module: package modules it imports}, ["module imports private name"])."""
    graph, private = {}, []
    for path in sorted(package.rglob("*.py")):
        name = module_name(path, package)
        is_package = path.name == "__init__.py"
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    if (package.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                            (package.parent / Path(*candidate.split(".")) / "__init__.py").exists():
                        graph[name].add(candidate)  # `from . import plots`: a module
                    else:
                        graph[name].add(target)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            private.append(f"{name} imports {alias.name} from {target}")
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name.startswith(package.name + ".")}
        graph[name].discard(name)
    return graph, private


def layers(graph: dict[str, set[str]]) -> tuple[list[list[str]], list[str]]:
    """Topological layers (each module after everything it imports) and the modules left in cycles."""
    done, result, left = set(), [], {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    while left:
        ready = sorted(m for m, deps in left.items() if deps <= done)
        if not ready:
            return result, sorted(left)
        result.append(ready)
        done |= set(ready)
        for m in ready:
            del left[m]
    return result, []


def main() -> int:
    graph, private = imports()
    ordered, cyclic = layers(graph)
    for i, layer in enumerate(ordered):
        print(f"layer {i}: " + ", ".join(m.removeprefix("transformer_edu.") or "transformer_edu" for m in layer))
    for m in cyclic:
        print(f"IN A CYCLE: {m} -> {sorted(graph[m])}")
    for line in private:
        print(f"PRIVATE: {line}")
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports, "
          f"{'no cycle' if not cyclic else 'CYCLES'}, {len(private)} private-name imports")
    return 1 if cyclic or private else 0


if __name__ == "__main__":
    sys.exit(main())
