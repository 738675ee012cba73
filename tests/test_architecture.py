"""The package's shape, kept mechanically (issue 14):

- no import cycle among filebridge modules at import time: a module-level import
  (not one inside a function, not one under ``if TYPE_CHECKING:``) never leads back
  to the module that made it;
- nor through imports inside functions: an import moved into a function to dodge a
  cycle still counts. The only ones left out are those kept there for start-up
  speed that would close a cycle at module level (``STARTUP_LAZY``, each checked to
  be inside a function and to close one);
- with the type-only imports counted too, the only cycles are those of a few
  groups known to lean on each other (the mapping's helpers, the Magento and Vendure
  API clients' modules), so a new one is a decision, not an accident;
- the shared-stock package runs below the job: it never imports filebridge.job or
  filebridge.pipeline, not even for a type (it describes the job it needs as a
  Protocol, filebridge/stock/jobview.py);
- pipeline.py holds the per-file flow only and stays under 250 lines;
- the registry's table of plugin modules (``PLUGINS``, imported on first use) and
  the ``@REGISTRY.<kind>("name")`` / ``@puller`` / ``@shipper`` lines agree both ways.

The walk reads the source with ``ast``; importing nothing, it sees every module.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "filebridge"
PIPELINE_LINES = 250
# Modules whose type-level cycles are known and allowed (prefixes of module names).
KNOWN_TYPE_CYCLES = (
    ("filebridge.mapping", "filebridge.fieldrefs", "filebridge.fieldsteps",
     "filebridge.enums"),
    ("filebridge.sinks.api.magento",),
    ("filebridge.sinks.api.vendure",),
    ("filebridge.sinks.api.woocommerce",),  # the client and its media module
    ("filebridge.photos.",),  # the folder and its readiness and retirement rules
)
# Imports inside functions kept there for start-up speed, which would close a cycle
# at module level: (importer, imported). None today: the registry imports a plugin by
# its name in PLUGINS (importlib), when a profile names it.
STARTUP_LAZY: frozenset[tuple[str, str]] = frozenset()


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
         for name, path in MODULES.items()}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_pkg: bool) -> set[str]:
    """The filebridge modules an import statement loads (a name imported from a
    package counts as its submodule when there is one)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    base = node.module or ""
    if node.level:
        pkg = name.split(".") if is_pkg else name.split(".")[:-1]
        pkg = pkg[:len(pkg) - node.level + 1]
        base = ".".join([*pkg, base] if base else pkg)
    out = set()
    for a in node.names:
        sub = f"{base}.{a.name}"
        if sub in MODULES:
            out.add(sub)
        elif base in MODULES:
            out.add(base)
    return out


def _imports(body: list[ast.stmt], name: str, is_pkg: bool, *, type_only: bool,
             nested: bool, out: set[str]) -> None:
    """Imports in ``body``: module level ones, with those under TYPE_CHECKING if
    ``type_only``, with those inside functions and classes if ``nested``."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out |= _targets(node, name, is_pkg)
        elif isinstance(node, ast.If):
            if type_only or not _is_type_checking(node.test):
                _imports(node.body, name, is_pkg, type_only=type_only, nested=nested, out=out)
            _imports(node.orelse, name, is_pkg, type_only=type_only, nested=nested, out=out)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody,
                          *(h.body for h in node.handlers)):
                _imports(block, name, is_pkg, type_only=type_only, nested=nested, out=out)
        elif isinstance(node, ast.With):
            _imports(node.body, name, is_pkg, type_only=type_only, nested=nested, out=out)
        elif nested:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    _imports([child], name, is_pkg, type_only=type_only, nested=nested,
                             out=out)
                else:
                    _imports([n for n in ast.walk(child) if isinstance(n, ast.stmt)], name,
                             is_pkg, type_only=type_only, nested=nested, out=out)


def graph(*, type_only: bool = False, nested: bool = False) -> dict[str, set[str]]:
    g = {}
    for name, path in MODULES.items():
        out: set[str] = set()
        _imports(TREES[name].body, name, path.name == "__init__.py", type_only=type_only,
                 nested=nested, out=out)
        out.discard(name)
        g[name] = out
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def _show(comps: list[list[str]], g: dict[str, set[str]]) -> str:
    return "\n".join(f"{m} -> {sorted(g[m] & set(c))}" for c in comps for m in c)


def test_no_import_cycle_at_import_time():
    g = graph()
    found = cycles(g)
    assert found == [], "module-level import cycles:\n" + _show(found, g)


def run_time(*, type_only: bool = False) -> dict[str, set[str]]:
    """Every import, those inside functions too, but the start-up lazies."""
    g = graph(nested=True, type_only=type_only)
    for a, b in STARTUP_LAZY:
        g[a] = g[a] - {b}
    return g


def test_no_import_cycle_through_imports_inside_functions():
    g = run_time()
    found = cycles(g)
    assert found == [], ("import cycles, imports inside functions counted (break the "
                         "cycle; an import there for start-up speed goes in STARTUP_LAZY):\n"
                         + _show(found, g))


def test_the_startup_lazies_are_inside_functions_and_needed():
    module, nested = graph(type_only=True), graph(nested=True)
    for a, b in sorted(STARTUP_LAZY):
        assert b in nested[a] and b not in module[a], (a, b)
        g = run_time()
        g[a] = g[a] | {b}
        assert any({a, b} <= set(c) for c in cycles(g)), f"{a} -> {b} closes no cycle"


def test_type_level_cycles_only_in_the_known_groups():
    g = run_time(type_only=True)
    new = [c for c in cycles(g)
           if not any(all(m.startswith(group) for m in c) for group in KNOWN_TYPE_CYCLES)]
    assert new == [], "import cycles (type-only imports counted):\n" + _show(new, g)


def test_the_stock_package_never_imports_the_job():
    g = graph(nested=True, type_only=True)  # every import, for types too
    found = {m: sorted(g[m] & {"filebridge.job", "filebridge.pipeline"})
             for m in g if m.startswith("filebridge.stock")}
    assert {m: t for m, t in found.items() if t} == {}


def test_pipeline_holds_the_per_file_flow_only():
    lines = (PACKAGE / "pipeline.py").read_text(encoding="utf-8").count("\n")
    assert lines <= PIPELINE_LINES, f"pipeline.py has {lines} lines (at most {PIPELINE_LINES})"


def test_the_walk_sees_imports_and_would_see_a_cycle():
    # Guard against a vacuous pass: the graphs hold the imports we know of, and a
    # cycle added to them is found.
    g = graph()
    assert {"filebridge.job", "filebridge.quarantine"} <= g["filebridge.pipeline"]
    assert "filebridge.stock.spec" in g["filebridge.stock.movements"]
    assert "filebridge.stock.jobview" in g["filebridge.stock.reconcile"]
    assert "filebridge.job" in graph(type_only=True)["filebridge.outcome"]
    assert "filebridge.stock.jobs" not in g["filebridge.job"]
    assert "filebridge.stock.jobs" in graph(nested=True)["filebridge.job"]
    assert len(g) > 150
    g["filebridge.job"] = g["filebridge.job"] | {"filebridge.pipeline"}
    assert any({"filebridge.job", "filebridge.pipeline"} <= set(c) for c in cycles(g))


def test_the_walk_would_see_a_cycle_through_a_function():
    # An import inside a function that closes a cycle: the module-level walk skips
    # it, the run-time one finds the cycle.
    tree = ast.parse("def f():\n    from filebridge.job import Job\n")
    outer: set[str] = set()
    inner: set[str] = set()
    _imports(tree.body, "filebridge.stock.feed", False, type_only=False, nested=False,
             out=outer)
    _imports(tree.body, "filebridge.stock.feed", False, type_only=False, nested=True,
             out=inner)
    assert outer == set() and inner == {"filebridge.job"}
    g = run_time()
    assert "filebridge.stock.feed" in g["filebridge.job"]  # Job.feed, in a function
    g["filebridge.stock.feed"] = g["filebridge.stock.feed"] | inner
    assert any({"filebridge.job", "filebridge.stock.feed"} <= set(c) for c in cycles(g))


# The decorators that register a plugin, beside @REGISTRY.<kind>(name).
HELPERS = {"puller": "puller", "shipper": "shipper"}


def registrations() -> dict[tuple[str, str], str]:
    """(kind, name) -> the module whose decorator registers it, read from the source."""
    found: dict[tuple[str, str], str] = {}
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for d in node.decorator_list:
                if not (isinstance(d, ast.Call) and d.args
                        and isinstance(d.args[0], ast.Constant)
                        and isinstance(name := d.args[0].value, str)):
                    continue
                f = d.func
                if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                        and f.value.id == "REGISTRY"):
                    kind = f.attr
                elif isinstance(f, ast.Name) and f.id in HELPERS:
                    kind = HELPERS[f.id]
                else:
                    continue
                assert (kind, name) not in found, (kind, name)
                found[(kind, name)] = module
    return found


def table_problems(table: dict[str, dict[str, str]],
                   registered: dict[tuple[str, str], str]) -> list[str]:
    listed = {(kind, name): module for kind, names in table.items()
              for name, module in names.items()}
    return [f"{kind} {name!r} is registered by {module} but PLUGINS "
            + (f"says {listed[kind, name]}" if (kind, name) in listed else "lacks it")
            for (kind, name), module in sorted(registered.items())
            if listed.get((kind, name)) != module] + [
        f"PLUGINS lists {kind} {name!r} in {module}, which does not register it"
        for (kind, name), module in sorted(listed.items())
        if registered.get((kind, name)) != module]


def test_every_registered_plugin_is_in_the_table_under_its_module():
    from filebridge.registry import KINDS, PLUGINS

    registered = registrations()
    assert set(PLUGINS) == set(KINDS)
    assert table_problems(PLUGINS, registered) == []
    # Not vacuous: the walk found every kind, and a table missing an entry, or
    # naming the wrong module, is caught.
    assert {k for k, _ in registered} == set(KINDS)
    short = {k: dict(v) for k, v in PLUGINS.items()}
    del short["sink"]["csv"]
    assert table_problems(short, registered) == [
        "sink 'csv' is registered by filebridge.sinks.csv but PLUGINS lacks it"]
    short["reader"]["csv"] = "filebridge.readers.xml"
    assert "PLUGINS lists reader 'csv' in filebridge.readers.xml, which does not register " \
        "it" in table_problems(short, registered)


def test_the_table_imports_what_it_names():
    # Imported for real: each module registers the name the table gives it.
    from filebridge.registry import PLUGINS, REGISTRY

    for kind, names in PLUGINS.items():
        for name, module in names.items():
            assert REGISTRY.get(kind, name).__module__ == module, (kind, name)
