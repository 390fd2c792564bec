"""A workflow definition as a graph: its states and the events between them. One function
reads the definition (`transition_graph`); the command line prints it as Mermaid
(`mermaid`) and the administrators' page draws it as SVG from `layout`, so both show the
same edges.

Transitions open from every open state (a transfer to another commune, the separation's
extension) would cross the whole drawing: they are kept apart (`Graph.general`) and shown
as a note and in the table of transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.spec import WorkflowDefinition


@dataclass(frozen=True)
class Edge:
    source: str
    #: None: the event keeps the case in its step.
    dest: str | None
    event: str
    #: The name of the condition that routes this edge (e.g. risk_is_serious), if any.
    when: str = ""
    unless: str = ""
    #: A general edge's sources (every open state, or nearly).
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Graph:
    name: str
    states: tuple[str, ...]
    initial: str
    final: tuple[str, ...]
    #: Edges between named states, in the definition's order.
    edges: tuple[Edge, ...]
    #: Transitions open from every open state: (event, dest or None).
    general: tuple[Edge, ...] = ()


def _name(function: Callable[..., Any] | None) -> str:
    return function.__name__ if function is not None else ""


def transition_graph(definition: WorkflowDefinition) -> Graph:
    open_states = set(definition.states) - set(definition.final)
    edges: list[Edge] = []
    general: list[Edge] = []
    for spec in definition.transitions:
        sources = (spec.source,) if isinstance(spec.source, str) else tuple(spec.source)
        if len(sources) > 1 and set(sources) >= open_states - {definition.initial}:
            general.append(
                Edge("*", spec.dest, spec.event, _name(spec.when), _name(spec.unless), sources)
            )
            continue
        for source in sources:
            edges.append(Edge(source, spec.dest, spec.event, _name(spec.when), _name(spec.unless)))
    return Graph(
        definition.name,
        tuple(definition.states),
        definition.initial,
        tuple(definition.final),
        tuple(edges),
        tuple(general),
    )


def mermaid(graph: Graph) -> str:
    """A Mermaid state diagram (`casework workflow diagram`)."""
    lines = ["---", f"title: casework: {graph.name} workflow", "---", "stateDiagram-v2"]
    lines.append(f"  [*] --> {graph.initial}")
    for edge in graph.edges:
        condition = (
            f" [{edge.when}]" if edge.when else f" [not {edge.unless}]" if edge.unless else ""
        )
        lines.append(f"  {edge.source} --> {edge.dest or edge.source}: {edge.event}{condition}")
    for edge in graph.general:
        for state in edge.sources:
            lines.append(f"  {state} --> {edge.dest or state}: {edge.event}")
    for state in graph.final:
        lines.append(f"  {state} --> [*]")
    return "\n".join(lines) + "\n"


@dataclass
class Layout:
    """Where each state sits: its layer (row, top to bottom) and column, and which edges run
    back up (drawn beside the states)."""

    layers: list[list[str]]
    position: dict[str, tuple[int, int]] = field(default_factory=dict)
    back: set[int] = field(default_factory=set)  # indexes into Graph.edges


def layout(graph: Graph) -> Layout:
    """A small layered layout: each state on the row after the longest chain of forward
    edges leading to it from the initial state (a depth-first search finds the edges that
    run back); states of one row side by side in the definition's order."""
    successors: dict[str, list[str]] = {state: [] for state in graph.states}
    for edge in graph.edges:
        if edge.dest is not None and edge.dest != edge.source:
            successors[edge.source].append(edge.dest)
    back_pairs: set[tuple[str, str]] = set()
    seen: set[str] = set()
    on_path: set[str] = set()

    def visit(state: str) -> None:
        seen.add(state)
        on_path.add(state)
        for nxt in successors[state]:
            if nxt in on_path:
                back_pairs.add((state, nxt))
            elif nxt not in seen:
                visit(nxt)
        on_path.discard(state)

    visit(graph.initial)
    for state in graph.states:
        if state not in seen:
            visit(state)
    layer = dict.fromkeys(graph.states, 0)
    for _ in graph.states:  # longest path over forward edges (a DAG: at most n rounds)
        for state in graph.states:
            for nxt in successors[state]:
                if (state, nxt) not in back_pairs and layer[nxt] < layer[state] + 1:
                    layer[nxt] = layer[state] + 1
    rows: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for state in graph.states:
        rows[layer[state]].append(state)
    result = Layout(rows)
    for row_index, row in enumerate(rows):
        for column, state in enumerate(row):
            result.position[state] = (row_index, column)
    for index, edge in enumerate(graph.edges):
        if edge.dest is not None and layer[edge.dest] <= layer[edge.source]:
            result.back.add(index)
    return result
