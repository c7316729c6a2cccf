"""The layout shows the flow: core/ is the chat machinery, widgets/ the page widgets on top of it,
export/ and site_plugins/ the toolchain. Imports run one way, without cycles, and only the
modules that must (the two backends and the page glue) import a runtime."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("core", "widgets", "export", "site_plugins")
# Besides the standard library and jinja2/markupsafe, which module may import what (numpy and
# onnxruntime exist only natively, js and pyodide only in the browser).
PLATFORM_IMPORTS = {"core/backend_native": {"numpy", "onnxruntime"}, "core/backend_browser": {"js", "pyodide"},
                    "widgets/page": {"js", "pyodide"}}
# The two places outside widgets/ that know page widgets exist: the fences plugin renders them
# (their contract and build context); llmb.js mounts them through widgets/page.py.
WIDGET_HOSTS = {"site_plugins.fences.plugin", "site_plugins.fences.formatter"}


def modules() -> dict:
    """Dotted name -> path of every module of the four packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, top_level_only: bool) -> set:
    """Dotted names ``name`` imports (relative imports resolved), at the top of the module or anywhere."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out |= {base} | {f"{base}.{a.name}" for a in node.names}
    return out


def roots(name: str, path: Path) -> set:
    return {m.split(".")[0] for m in imports(name, path, top_level_only=False)}


def test_only_the_backends_and_the_page_import_a_runtime():
    allowed = set(sys.stdlib_module_names) | {"core", "widgets", "jinja2", "markupsafe"}
    found = {name: path for name, path in modules().items() if name.split(".")[0] in ("core", "widgets")}
    assert len(found) > 30
    for name, path in found.items():
        assert roots(name, path) - allowed == PLATFORM_IMPORTS.get(name.replace(".", "/"), set()), name


def test_the_core_imports_no_widget_and_only_the_fences_plugin_does():
    for name, path in modules().items():
        package = name.split(".")[0]
        if package == "core":
            assert not roots(name, path) & {"widgets", "export", "site_plugins"}, name
        elif package in ("export", "site_plugins"):
            assert "widgets" not in roots(name, path) or name in WIDGET_HOSTS, name


def test_no_import_cycles():
    """Between the modules of the four packages, counting function-local imports too: those are
    there because a runtime lacks a module, or to keep a heavy dependency such as torch off a
    path that does not need it, never to hide a cycle."""
    found = modules()
    # (a module importing its own package, as ``from . import x`` does, is no cycle: the package
    # is already loading)
    graph = {name: {m for m in imports(name, path, top_level_only=False)
                    if m in found and m != name and not name.startswith(m + ".")}
             for name, path in found.items()}
    state = {}

    def visit(name, trail):
        state[name] = "open"
        for dep in sorted(graph[name]):
            assert state.get(dep) != "open", "import cycle: " + " -> ".join(trail + [name, dep])
            if dep not in state:
                visit(dep, trail + [name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
