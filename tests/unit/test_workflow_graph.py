"""The workflow as a graph: one reading of the definition for the Mermaid text and the
administrators' SVG."""

from __future__ import annotations

from workflows.case import CASE_WORKFLOW
from workflows.graph import layout, mermaid, transition_graph


def test_every_event_is_an_edge_or_a_general_transition() -> None:
    graph = transition_graph(CASE_WORKFLOW)
    events = {e.event for e in graph.edges} | {e.event for e in graph.general}
    assert events == {t.event for t in CASE_WORKFLOW.transitions}
    assert {e.event for e in graph.general} == {
        "transfer_out",
        "extend_separation",
        "end_separation",
    }
    routed = [(e.dest, e.when, e.unless) for e in graph.edges if e.event == "assess"]
    assert routed == [
        ("emergency_protection", "risk_is_serious", ""),
        ("specific_assessment", "", "risk_is_serious"),
    ]


def test_the_layout_puts_each_step_below_the_ones_leading_to_it() -> None:
    graph = transition_graph(CASE_WORKFLOW)
    placed = layout(graph)
    row = {state: position[0] for state, position in placed.position.items()}
    assert row["received"] == 0 and row["closed"] == max(row.values())
    assert row["specific_assessment"] > row["emergency_protection"] > row["initial_assessment"]
    back = {(graph.edges[i].source, graph.edges[i].dest) for i in placed.back}
    assert back == {
        ("plan_approval", "plan_drafting"),
        ("reviewing", "plan_drafting"),
        ("closed", "initial_assessment"),
    }


def test_mermaid_lists_every_transition_from_the_same_graph() -> None:
    text = mermaid(transition_graph(CASE_WORKFLOW))
    assert text.splitlines()[3] == "stateDiagram-v2"
    assert "initial_assessment --> emergency_protection: assess [risk_is_serious]" in text
    assert "reviewing --> transferred: transfer_out" in text
    assert "received --> transferred: transfer_out" in text
    assert "closed --> [*]" in text
