"""The small engine: one shared transitions Machine per definition, and how to fire it.

The Machine is built once per workflow and serves every case (``model=None``): an event is
triggered on a `CaseSnapshot`, never on an ORM object, and the Machine never holds a model.
``auto_transitions=False`` so nothing can jump between states around the guards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from transitions import EventData, Machine, MachineError

from workflows.case import CASE_WORKFLOW
from workflows.spec import (
    Anchor,
    CaseSnapshot,
    DeadlineRule,
    FieldError,
    Guard,
    Rung,
    TransitionSpec,
    WorkflowDefinition,
)

WORKFLOWS: dict[str, WorkflowDefinition] = {CASE_WORKFLOW.name: CASE_WORKFLOW}


class WorkflowError(Exception):
    pass


class UnknownEvent(WorkflowError):
    def __init__(self, event: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown event {event!r} (known: {', '.join(sorted(known))})")


class EventNotAvailable(WorkflowError):
    def __init__(self, event: str, state: str, available: list[str]) -> None:
        allowed = ", ".join(available) or "none"
        super().__init__(f"event {event!r} is not allowed in state {state!r} (allowed: {allowed})")
        self.event, self.state, self.available = event, state, available


class GuardRefused(WorkflowError):
    def __init__(self, event: str, reasons: list[str]) -> None:
        super().__init__(f"{event}: " + "; ".join(reasons))
        self.event, self.reasons = event, reasons


class InvalidEventData(WorkflowError):
    def __init__(self, error: FieldError) -> None:
        super().__init__(str(error))
        self.path, self.message = error.path, error.message


def get_workflow(name: str) -> WorkflowDefinition:
    return WORKFLOWS[name]


def _guard_condition(guard: Guard) -> Any:
    def condition(event: EventData) -> bool:
        snapshot: CaseSnapshot = event.model  # type: ignore[assignment]
        reason = guard(snapshot, event.kwargs["data"])
        if reason is not None:
            snapshot.refusals.append(reason)
        return reason is None

    condition.__name__ = guard.__name__
    return condition


def _route(predicate: Any) -> Any:
    def condition(event: EventData) -> bool:
        return bool(predicate(event.model, event.kwargs["data"]))

    condition.__name__ = predicate.__name__
    return condition


def _machine_transitions(definition: WorkflowDefinition) -> list[dict[str, Any]]:
    result = []
    for spec in definition.transitions:
        conditions = [_route(spec.when)] if spec.when else []
        conditions += [_guard_condition(guard) for guard in spec.guards]
        entry: dict[str, Any] = {
            "trigger": spec.event,
            "source": list(spec.source) if isinstance(spec.source, tuple) else spec.source,
            "dest": spec.dest,
            "conditions": conditions,
        }
        if spec.unless:
            entry["unless"] = [_route(spec.unless)]
        result.append(entry)
    return result


@cache
def machine_for(name: str) -> Machine:
    definition = get_workflow(name)
    return Machine(
        model=None,
        states=list(definition.states),
        transitions=_machine_transitions(definition),
        initial=definition.initial,
        auto_transitions=False,
        send_event=True,
    )


def available_events(
    definition: WorkflowDefinition, state: str, role: str | None = None
) -> list[str]:
    """Events whose source includes `state` (and that `role` may fire), in definition order."""
    key = (id(definition), state, role)
    hit = _AVAILABLE.get(key)
    if hit is None or hit[0] is not definition:
        hit = _AVAILABLE[key] = (definition, _available(definition, state, role))
    return list(hit[1])


#: (definition, state, role) -> events: asked on every event and every case view.
_AVAILABLE: dict[tuple[int, str, str | None], tuple[WorkflowDefinition, tuple[str, ...]]] = {}


def _available(definition: WorkflowDefinition, state: str, role: str | None) -> tuple[str, ...]:
    names: list[str] = []
    for spec in definition.transitions:
        sources = spec.source if isinstance(spec.source, tuple) else (spec.source,)
        allowed = role is None or role in definition.events[spec.event].by
        if state in sources and spec.event not in names and allowed:
            names.append(spec.event)
    return tuple(names)


def offered_events(
    definition: WorkflowDefinition, snapshot: CaseSnapshot, role: str | None = None
) -> list[str]:
    """The available events that apply to this case (what a user is offered)."""
    offered = []
    for name in available_events(definition, snapshot.state, role):
        applies = definition.events[name].offered_when
        if applies is None or applies(snapshot):
            offered.append(name)
    return offered


@dataclass(frozen=True)
class Fired:
    event: str
    from_state: str
    to_state: str
    data: dict[str, Any]
    transition: TransitionSpec | None


def fire(
    definition: WorkflowDefinition,
    snapshot: CaseSnapshot,
    event: str,
    data: Mapping[str, Any] | None,
) -> Fired:
    """Validate the event's data, run the guards, and move `snapshot` to its new state."""
    if event not in definition.events:
        raise UnknownEvent(event, definition.events)
    if event not in available_events(definition, snapshot.state):
        raise EventNotAvailable(event, snapshot.state, available_events(definition, snapshot.state))
    if data is not None and not isinstance(data, Mapping):
        raise InvalidEventData(FieldError("data", "must be an object"))
    try:
        cleaned = definition.events[event].clean(data or {}, now=snapshot.now)
    except FieldError as error:
        raise InvalidEventData(error) from None
    before = snapshot.state
    snapshot.refusals.clear()
    try:
        moved = machine_for(definition.name).events[event].trigger(snapshot, data=cleaned)
    except MachineError:  # pragma: no cover - available_events() checked the source already
        raise EventNotAvailable(event, before, available_events(definition, before)) from None
    if not moved:
        raise GuardRefused(event, snapshot.refusals or ["no transition applies"])
    spec = next(
        (
            t
            for t in definition.transitions
            if t.event == event
            and (t.dest == snapshot.state or (t.dest is None and before == snapshot.state))
        ),
        None,
    )
    return Fired(event, before, snapshot.state, cleaned, spec)


def effective_rules(
    definition: WorkflowDefinition, overrides: Iterable[Mapping[str, Any]] = ()
) -> tuple[DeadlineRule, ...]:
    """The definition's deadline rules with a province's overrides applied."""
    by_rule = {override["rule"]: override for override in overrides}
    rules = []
    for rule in definition.deadlines:
        override = by_rule.get(rule.name)
        if override:
            rule = rule.overridden(
                duration=override.get("duration"),
                unit=override.get("unit"),
                high_risk_duration=override.get("high_risk_duration"),
                assignee_role=override.get("assignee_role"),
                legal_source=override.get("legal_source") or None,
                ladder=override.get("ladder") or None,
            )
        rules.append(rule)
    return tuple(rules)


def describe(definition: WorkflowDefinition) -> str:
    """Plain-text summary for `casework workflow show`."""
    lines = [f"Workflow {definition.name!r} — {definition.legal_basis}", "", "States:"]
    for state in definition.states:
        marks = " (initial)" if state == definition.initial else ""
        marks += " (final)" if state in definition.final else ""
        lines.append(f"  {state}{marks}")
    lines += ["", "Events:"]
    for spec in definition.transitions:
        event = definition.events[spec.event]
        source = spec.source if isinstance(spec.source, str) else "/".join(spec.source)
        if set(spec.source) == set(definition.states) - set(definition.final):
            source = "any open state"
        guards = [g.__name__ for g in spec.guards]
        if spec.when:
            guards.insert(0, f"when {spec.when.__name__}")
        if spec.unless:
            guards.insert(0, f"unless {spec.unless.__name__}")
        fields = ", ".join(f.name + ("" if f.required else "?") for f in event.fields) or "-"
        dest = spec.dest or "(stays in its step)"
        lines.append(
            f"  {spec.event:<20} {source} -> {dest}  by {'/'.join(event.by)}; "
            f"data: {fields}"
            + (f"; guards: {', '.join(guards)}" if guards else "")
            + (f"  [{spec.legal_source}]" if spec.legal_source else "")
        )
    lines += ["", "Deadlines:"]
    for rule in definition.deadlines:
        high = f" ({rule.high_risk_duration} if high risk)" if rule.high_risk_duration else ""
        if rule.anchor is Anchor.EVENT_DATE:
            timing = (
                f"the date in {rule.anchor_field} of {'/'.join(rule.opened_by)}; "
                f"met by {'/'.join(rule.met_by)}"
            )
        else:
            timing = f"{rule.duration}{high} {rule.unit} from {rule.anchor}"
        rungs = ", ".join(_rung_text(rung) for rung in rule.ladder)
        lines.append(
            f"  {rule.name:<20} step {rule.step}: {timing}, for {rule.assignee_role}"
            f"  [{rule.legal_source}]" + (f"\n  {'':<20} ladder: {rungs}" if rungs else "")
        )
    return "\n".join(lines)


def _rung_text(rung: Rung) -> str:
    if rung.at_fraction is not None:
        when = f"at {rung.at_fraction:.0%}"
    else:
        when = f"+{rung.offset} {rung.offset_unit} after due"
    return f"{rung.name} {when} -> {'/'.join(rung.notify)}"
