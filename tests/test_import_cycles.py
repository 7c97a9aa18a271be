"""No import cycles between any two modules of ``cms`` and ``plugins``.

The layer rules are import-linter contracts (``make lint``); its cycle contract
(``acyclic_siblings``) compares whole packages, so this test checks modules,
with the graph import-linter itself builds (grimp). Imports inside functions
and under ``TYPE_CHECKING`` count: hiding a cycle in a function does not break it.
"""

from __future__ import annotations

from itertools import pairwise

import grimp


def import_cycles(graph: grimp.ImportGraph) -> set[frozenset[str]]:
    """The modules of each cycle: those that import, and are imported by, one another."""
    cycles = set()
    for module in graph.modules:
        others = graph.find_upstream_modules(module) & graph.find_downstream_modules(module)
        if others:
            cycles.add(frozenset({module, *others}))
    return cycles


def one_loop(graph: grimp.ImportGraph, cycle: frozenset[str]) -> str:
    """A loop through ``cycle``, with the line of each import: ``a (l.3) -> b (l.9) -> a``."""
    first, *rest = sorted(cycle)
    there = graph.find_shortest_chain(importer=first, imported=rest[0]) or ()
    back = graph.find_shortest_chain(importer=rest[0], imported=first) or ()
    loop = [*there, *back[1:]]
    steps = []
    for importer, imported in pairwise(loop):
        lines = [
            d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)
        ]
        steps.append(f"{importer} (l.{', '.join(map(str, lines))})")
    return " -> ".join([*steps, loop[-1]])


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("cms", "plugins", cache_dir=None)
    found = import_cycles(graph)
    loops = [one_loop(graph, cycle) for cycle in sorted(found, key=sorted)]
    assert not loops, "import cycles (move the shared piece down a layer):\n" + "\n".join(loops)
