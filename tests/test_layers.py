"""The layers hold: engine/, data/ and models/ import nothing from console or cli, directly or
through another glaucli module, also inside functions (imports are read from the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import glaucli

PACKAGE = Path(glaucli.__file__).parent
LIBRARY = ("glaucli.engine", "glaucli.data", "glaucli.models")
FORBIDDEN = ("glaucli.console", "glaucli.cli")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from glaucli import console`
    return {n for n in names if n in modules or n.startswith(FORBIDDEN)}


def _offending_chains() -> list[str]:
    modules = _modules()
    graph = {name: _imports(path, modules) for name, path in modules.items()}
    chains = []
    for start in sorted(m for m in modules if m.startswith(LIBRARY)):
        seen, todo = {start: [start]}, [start]
        while todo:
            current = todo.pop()
            for target in sorted(graph.get(current, ())):
                if target in seen:
                    continue
                seen[target] = seen[current] + [target]
                if target.startswith(FORBIDDEN):
                    chains.append(" -> ".join(seen[target]))
                else:
                    todo.append(target)
    return chains


def test_the_library_layers_import_nothing_from_console_or_cli():
    assert _offending_chains() == []


def test_the_walk_sees_imports_inside_functions(tmp_path):
    source = "def f():\n    from glaucli import console\n    import glaucli.cli.app\n"
    (tmp_path / "m.py").write_text(source)
    assert _imports(tmp_path / "m.py", _modules()) >= {"glaucli.console", "glaucli.cli.app"}


def test_library_messages_carry_no_rich_markup():
    """Engine, data and model messages are plain text: the CLI decides how to show them (an
    exception text inside `[yellow]...[/]` would be read as markup)."""
    import re

    markup = re.compile(r"\[/?(?:bold|dim|italic|red|green|yellow|blue|cyan|magenta)\b[^\]]*\]|\[/\]")
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{number}"
                 for name, path in _modules().items() if name.startswith(LIBRARY)
                 for number, line in enumerate(path.read_text().splitlines(), 1) if markup.search(line)]
    assert offenders == []


def test_commands_import_no_private_name():
    """A command uses what another module offers publicly (demo once borrowed evaluate's
    private report printer): shared rendering lives in cli/render.py."""
    offenders = []
    for name, path in _modules().items():
        if not name.startswith("glaucli.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("glaucli"):
                offenders += [f"{name}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert offenders == []


# -- no import cycle ---------------------------------------------------------------------------

def _module_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Who imports whom among glaucli's modules, imports inside functions included
    (TYPE_CHECKING blocks too: a stricter rule than needed). `from pkg import name` counts as
    `pkg.name` when that is a module, else as `pkg`; importing one's own package is no edge."""
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected component."""
    order, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan; the graph has ~100 nodes, recursion is fine
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_loop_through(min(component), component, graph))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return found


def _loop_through(start: str, component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest path start -> ... -> start inside one strongly connected component."""
    paths, todo = {start: [start]}, [start]
    while todo:
        current = todo.pop(0)
        for target in sorted(graph[current] & component):
            if target == start:
                return paths[current] + [start]
            if target not in paths:
                paths[target] = paths[current] + [target]
                todo.append(target)
    return [start]


def test_no_import_cycle():
    cycles = _cycles(_module_graph(_modules()))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_cycle_and_reads_from_imports():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    modules = _modules()
    edges = _module_graph(modules)
    assert "glaucli.engine.report.figures" in edges["glaucli.engine.report.evidence"]  # `from pkg import module`
    assert "glaucli.engine.report" not in edges["glaucli.engine.report.evidence"]  # its own package: no edge
