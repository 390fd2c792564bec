"""The hash-chained audit trail detects changed, removed and inserted events."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from click.testing import CliRunner

from casework import audit
from casework.cli import main
from casework.models import AuditChain, AuditEvent, AuditSeal
from casework.services.queries import get_case
from tests.conftest import at
from tests.helpers import case_in, open_case


def verify(db):
    with db.uow(readonly=True) as uow:
        return audit.verify(uow.session, uow.settings.audit_key)


def events(db, chain="48"):
    with db.uow(readonly=True) as uow:
        return list(
            uow.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
            )
        )


def test_untouched_chain_verifies(db, people) -> None:
    case_in(db, people, "closed")
    result = verify(db)
    assert result.ok, result.problem
    with db.uow(readonly=True) as uow:
        assert result.count == uow.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    assert len(result.head_hash) == 64


def test_changed_event_is_named(db, people) -> None:
    case_in(db, people, "implementing")
    target = events(db)[5]
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(AuditEvent).where(AuditEvent.id == target.id).values(actor="someone-else")
        )
    result = verify(db)
    assert not result.ok
    assert result.event_id == target.id
    assert "was changed" in result.problem


def test_deleted_event_is_named(db, people) -> None:
    case_in(db, people, "implementing")
    target = events(db)[4]
    with db.engine.begin() as conn:
        conn.execute(sa.delete(AuditEvent).where(AuditEvent.id == target.id))
    result = verify(db)
    assert not result.ok
    assert f"seq {target.seq} were removed" in result.problem


def test_deleted_last_event_is_caught_by_the_chain_head(db, people) -> None:
    case_in(db, people, "implementing")
    last = events(db)[-1]
    with db.engine.begin() as conn:
        conn.execute(sa.delete(AuditEvent).where(AuditEvent.id == last.id))
    result = verify(db)
    assert not result.ok
    assert f"seq {last.seq}..{last.seq} were removed" in result.problem


def test_inserted_event_is_named(db, people) -> None:
    case_in(db, people, "implementing")
    chain = events(db)
    position = chain[3]
    # Make room after `position` and forge an event there (without the audit key).
    with db.engine.begin() as conn:
        for event in reversed(chain[4:]):
            conn.execute(
                sa.update(AuditEvent).where(AuditEvent.id == event.id).values(seq=event.seq + 1)
            )
        forged = AuditEvent(
            chain="48",
            seq=position.seq + 1,
            occurred_at=position.occurred_at,
            actor_id=None,
            actor="officer",
            action="case.read",
            case_id=position.case_id,
            summary={},
            prev_hash=position.hash,
        )
        # The attacker computes the link (sha256 needs no key) but not the MAC.
        forged.mac = audit.stored_event_mac(b"not-the-key", forged)
        forged.hash = audit.link_hash(forged.prev_hash, forged.seq, forged.mac)
        conn.execute(
            sa.insert(AuditEvent).values(
                chain=forged.chain,
                seq=forged.seq,
                occurred_at=forged.occurred_at,
                actor_id=None,
                actor=forged.actor,
                action=forged.action,
                case_id=forged.case_id,
                summary={},
                mac=forged.mac,
                prev_hash=forged.prev_hash,
                hash=forged.hash,
            )
        )
        inserted_id = conn.scalar(sa.select(sa.func.max(AuditEvent.id)))
    result = verify(db)
    assert not result.ok
    assert result.event_id == inserted_id
    assert "was inserted" in result.problem


def test_appended_event_beyond_the_head_is_caught(db, people) -> None:
    case_in(db, people, "plan_drafting")
    last = events(db)[-1]
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(AuditEvent).values(
                chain="48",
                seq=last.seq + 1,
                occurred_at=last.occurred_at,
                actor_id=None,
                actor="x",
                action="case.read",
                case_id=None,
                summary={},
                prev_hash=last.hash,
                hash="f" * 64,
            )
        )
    result = verify(db)
    assert not result.ok
    assert "inserted" in result.problem


def test_rewritten_chain_is_caught_by_a_seal(db, people) -> None:
    case_in(db, people, "plan_drafting")
    with db.uow() as uow:
        audit.seal(uow.session, uow.settings.audit_key, at("2027-02-04T00:00:00"))
        uow.commit()
    # Whoever holds the key re-forges the last event and the head: the seal still disagrees.
    last = events(db)[-1]
    with db.uow() as uow:
        row = uow.session.get(AuditEvent, last.id)
        row.summary = {"tampered": True}
        row.mac = audit.stored_event_mac(uow.settings.audit_key, row)
        row.hash = audit.link_hash(row.prev_hash, row.seq, row.mac)
        head = uow.session.get(AuditChain, "48")
        head.head_hash = row.hash
        uow.commit()
    result = verify(db)
    assert not result.ok
    assert "seal 1" in result.problem


def relink_without(db, removed) -> None:
    """What someone with write access but no key can do: delete an event, renumber and
    re-link everything after it (the links are plain sha256), and move the head."""
    with db.uow() as uow:
        session = uow.session
        session.delete(session.get(AuditEvent, removed.id))
        session.flush()
        later = list(
            session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.chain == removed.chain, AuditEvent.seq > removed.seq)
                .order_by(AuditEvent.seq)
            )
        )
        prev_hash = removed.prev_hash
        for event in later:  # one by one: (chain, seq) stays unique on the way down
            event.seq -= 1
            event.prev_hash = prev_hash
            event.hash = audit.link_hash(prev_hash, event.seq, event.mac)
            prev_hash = event.hash
            session.flush()
        head = session.get(AuditChain, removed.chain)
        head.seq -= 1
        head.head_hash = prev_hash
        uow.commit()


def test_a_removal_relinked_without_the_key_is_caught_without_any_seal(db, people) -> None:
    # No seal at all: each MAC covers its event's place, so re-linking needs the key.
    case_in(db, people, "plan_drafting")
    chain = events(db)
    relink_without(db, chain[2])
    result = verify(db)
    assert not result.ok
    assert result.event_id == chain[3].id  # the first event moved without its MAC
    assert "its MAC does not match" in result.problem or "not part of the chain" in result.problem


def test_a_renumbered_chain_is_caught(db, people) -> None:
    # Deleting an event and closing the gap in the numbers only (links left alone).
    case_in(db, people, "plan_drafting")
    chain = events(db)
    with db.uow() as uow:
        uow.session.delete(uow.session.get(AuditEvent, chain[2].id))
        uow.session.flush()
        for event in chain[3:]:
            uow.session.get(AuditEvent, event.id).seq -= 1
            uow.session.flush()
        uow.session.get(AuditChain, "48").seq -= 1
        uow.commit()
    result = verify(db)
    assert not result.ok and result.event_id == chain[3].id


def test_a_replayed_event_is_caught(db, people) -> None:
    # A genuine event copied to the end of its chain, linked and numbered correctly, and the
    # head moved on: the copy's MAC names its original place.
    case_in(db, people, "plan_drafting")
    chain = events(db)
    genuine, last = chain[4], chain[-1]
    with db.uow() as uow:
        copy = AuditEvent(
            chain=genuine.chain,
            seq=last.seq + 1,
            occurred_at=genuine.occurred_at,
            actor_id=genuine.actor_id,
            actor=genuine.actor,
            action=genuine.action,
            case_id=genuine.case_id,
            summary=genuine.summary,
            mac=genuine.mac,
            prev_hash=last.hash,
        )
        copy.hash = audit.link_hash(copy.prev_hash, copy.seq, copy.mac)
        uow.session.add(copy)
        head = uow.session.get(AuditChain, "48")
        head.seq, head.prev_hash, head.head_hash = copy.seq, last.hash, copy.hash
        uow.commit()
        copy_id = copy.id
    result = verify(db)
    assert not result.ok and result.event_id == copy_id
    assert "MAC does not match" in result.problem


def cut_tail(db, count: int) -> None:
    """Without the key: delete the chain's last events and roll its head back."""
    chain = events(db)
    keep = chain[-count - 1]
    with db.uow() as uow:
        for event in chain[-count:]:
            uow.session.delete(uow.session.get(AuditEvent, event.id))
        head = uow.session.get(AuditChain, "48")
        head.seq, head.prev_hash, head.head_hash = keep.seq, keep.prev_hash, keep.hash
        uow.commit()


def seal_at(db, when: str):
    with db.uow() as uow:
        row = audit.seal(uow.session, uow.settings.audit_key, at(when))
        uow.commit()
        return row.id


def test_a_cut_tail_is_caught_by_the_seal_that_covered_it(db, people) -> None:
    case_in(db, people, "plan_drafting")
    seal_at(db, "2027-02-04T00:00:00")
    cut_tail(db, 2)
    result = verify(db)
    assert not result.ok and "seal 1" in result.problem and "cut" in result.problem


def test_deleted_seals_are_caught(db, people) -> None:
    case_in(db, people, "specific_assessment")
    seal_at(db, "2027-02-04T00:00:00")
    middle = seal_at(db, "2027-02-04T00:01:00")
    seal_at(db, "2027-02-04T00:02:00")
    with db.engine.begin() as conn:  # a seal from the middle: the next one does not follow
        conn.execute(sa.delete(AuditSeal).where(AuditSeal.id == middle))
    result = verify(db)
    assert not result.ok and f"seal {middle + 1} was changed, removed or inserted" in result.problem


def test_a_cut_tail_with_its_seals_deleted_is_caught_when_nothing_sealed_it_in_time(
    db, people
) -> None:
    # Events, a seal, more events, a second seal; then the second seal and the events it
    # covered are deleted. The events after the first seal are long past the sealing interval.
    open_case(db, people)  # at 09:10
    seal_at(db, "2027-02-03T09:20:00")
    with db.uow(readonly=True) as uow:
        covered = uow.session.get(AuditChain, "48").seq
    case = open_case(
        db,
        people,
        now=at("2027-02-03T10:00:00"),
        child={"full_name": "Lê Thị Mai", "sex": "female", "age_years": 5},
    )
    get_case(db, people["officer"], case["id"], now=at("2027-02-03T10:00:00"))
    second = seal_at(db, "2027-02-03T10:01:00")
    within = timedelta(minutes=5)

    def check(now: str):
        with db.uow(readonly=True) as uow:
            return audit.verify(uow.session, uow.settings.audit_key, at(now), within)

    assert check("2027-02-03T12:00:00").ok  # everything sealed in time
    with db.engine.begin() as conn:
        conn.execute(sa.delete(AuditSeal).where(AuditSeal.id == second))
    assert verify(db).ok  # the chain itself is whole: only the seals tell
    stale = check("2027-02-03T12:00:00")
    assert not stale.ok and f"from seq {covered + 1}" in stale.problem
    assert "not sealed within 300 s" in stale.problem
    assert check("2027-02-03T10:03:00").ok  # still within the interval: not yet a problem


def test_nothing_sealed_at_all_fails_once_the_interval_passed(db, people) -> None:
    open_case(db, people)
    with db.uow(readonly=True) as uow:
        first = uow.session.scalar(sa.select(sa.func.min(AuditEvent.occurred_at)))
        late = audit.verify(
            uow.session, uow.settings.audit_key, first + timedelta(hours=1), timedelta(minutes=5)
        )
    assert not late.ok and "there is no seal" in late.problem


def test_the_anchor_catches_a_truncated_tail_and_deleted_seals(
    db, people, db_url, tmp_path
) -> None:
    case_in(db, people, "plan_drafting")
    runner = CliRunner()
    env = {"CASEWORK_AUDIT_KEY": "test-audit-key", "CASEWORK_AUDIT_SEAL_WITHIN": "0"}
    printed = runner.invoke(main, ["--database-url", db_url, "audit", "anchor"], env=env)
    assert printed.exit_code == 0, printed.output
    saved = json.loads(printed.output)
    assert saved["heads"]["48"]["seq"] == events(db)[-1].seq and len(saved["hash"]) == 64
    anchor_file = tmp_path / "anchor.json"
    anchor_file.write_text(printed.output)
    args = ["--database-url", db_url, "audit", "verify", "--anchor", str(anchor_file)]
    assert runner.invoke(main, args, env=env).exit_code == 0
    # The attacker cuts the tail and removes every seal that saw it.
    cut_tail(db, 2)
    with db.engine.begin() as conn:
        conn.execute(sa.delete(AuditSeal))
    assert verify(db).ok  # nothing inside the database tells any more
    bad = runner.invoke(main, args, env=env)
    assert bad.exit_code == 1 and "anchored seal" in bad.output
    # An anchor edited by hand (or made with another key) is refused.
    saved["heads"]["48"]["seq"] -= 2
    anchor_file.write_text(json.dumps(saved))
    forged = runner.invoke(main, args, env=env)
    assert forged.exit_code == 1 and "altered" in forged.output
    anchor_file.write_text("not json")
    unreadable = runner.invoke(main, args, env=env)
    assert unreadable.exit_code == 2 and "--anchor" in unreadable.output


def test_reads_of_a_case_are_audited(db, people) -> None:
    case = open_case(db, people)
    get_case(db, people["officer"], case["id"], now=at("2027-02-03T10:00:00"))
    reads = [e for e in events(db) if e.action == "case.read"]
    assert [(e.actor, e.case_id) for e in reads] == [("officer", case["id"])]


def test_provinces_have_their_own_chains(db, people) -> None:
    open_case(db, people)
    open_case(
        db,
        people,
        actor="intake.111",
        incident_unit_code="00004",
        child={"full_name": "Lê Văn An", "sex": "male", "age_years": 7},
    )
    with db.uow(readonly=True) as uow:
        chains = set(uow.session.scalars(sa.select(AuditEvent.chain)))
    assert {"48", "01"} <= chains
    assert verify(db).ok


def test_audit_contains_no_free_text_of_the_case(db, people) -> None:
    case_in(db, people, "plan_drafting")
    with db.uow(readonly=True) as uow:
        dumped = " ".join(str(e.summary) for e in uow.session.scalars(sa.select(AuditEvent)))
    assert "Nguyễn Thị Lan" not in dumped
    assert "đã xác minh" not in dumped  # the assessment's findings


def test_cli_verify_exit_codes(db, people, db_url) -> None:
    case_in(db, people, "specific_assessment")
    runner = CliRunner()
    env = {"CASEWORK_AUDIT_KEY": "test-audit-key"}
    ok = runner.invoke(main, ["--database-url", db_url, "audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: ")
    target = events(db)[2]
    with db.engine.begin() as conn:
        conn.execute(sa.update(AuditEvent).where(AuditEvent.id == target.id).values(action="x"))
    bad = runner.invoke(main, ["--database-url", db_url, "audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert f"event {target.id}" in bad.output


def test_the_minutely_seal_writes_only_when_a_chain_moved(db, people) -> None:
    case = open_case(db, people)

    def seal_now(when):
        with db.uow() as uow:
            row = audit.seal(uow.session, uow.settings.audit_key, at(when), only_if_changed=True)
            uow.commit()
            return row

    assert seal_now("2027-02-04T00:00:00") is not None
    assert seal_now("2027-02-04T00:01:00") is None  # nothing happened in between
    get_case(db, people["officer"], case["id"])
    assert seal_now("2027-02-04T00:02:00") is not None
    assert verify(db).ok


def test_two_sealers_at_once_extend_the_seal_chain_one_after_the_other(db, people) -> None:
    import threading

    open_case(db, people)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def seal_once() -> None:
        try:
            with db.uow() as uow:
                barrier.wait()
                audit.seal(uow.session, uow.settings.audit_key, at("2027-02-04T00:00:00"))
                uow.commit()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=seal_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.uow(readonly=True) as uow:
        seals = list(uow.session.scalars(sa.select(AuditSeal).order_by(AuditSeal.id)))
    assert len(seals) == 4
    assert [s.prev_hash for s in seals[1:]] == [s.hash for s in seals[:-1]]
    assert verify(db).ok


def test_verify_reads_one_moment_while_events_are_written(db, people, monkeypatch) -> None:
    # An event committed while verify walks the chains is not taken for an insertion.
    case = open_case(db, people)
    streamed = audit._stream

    def write_meanwhile(session, *chains):
        get_case(db, people["officer"], case["id"], now=at("2027-02-03T10:00:00"))
        yield from streamed(session, *chains)

    monkeypatch.setattr(audit, "_stream", write_meanwhile)
    result = verify(db)
    assert result.ok, result.problem


def test_events_of_revision_0003_verify_and_no_older_format_follows_a_newer(db) -> None:
    """0003's events (a MAC over the content alone) still verify, new events continue the
    chain in the current format, and a content-only event after them is refused."""
    from datetime import UTC, datetime

    key = db.settings.audit_key
    when = datetime(2027, 1, 5, 3, 0, tzinfo=UTC)

    def old_style(seq: int, prev: str) -> AuditEvent:
        event = AuditEvent(
            chain="48", seq=seq, occurred_at=when, actor_id=None, actor="system",
            action="case.read", case_id=None, summary={"n": seq}, prev_hash=prev,
        )  # fmt: skip
        event.mac = audit.content_mac(key, event)
        event.hash = audit.link_hash(prev, seq, event.mac)
        return event

    with db.uow() as uow:
        first = old_style(1, audit.GENESIS)
        second = old_style(2, first.hash)
        uow.session.add_all([first, second])
        uow.session.add(
            AuditChain(
                chain="48", seq=2, head_hash=second.hash, prev_hash=first.hash, updated_at=when
            )
        )
        uow.commit()
    with db.uow() as uow:
        audit.record(uow.session, key, actor=None, action="case.read", now=when, province_code="48")
        uow.commit()
    result = verify(db)
    assert result.ok and result.count == 3, result.problem
    with db.uow() as uow:  # a genuine-looking 0003 event after a current one
        head = uow.session.get(AuditChain, "48")
        late = old_style(4, head.head_hash)
        uow.session.add(late)
        head.seq, head.prev_hash, head.head_hash = 4, head.head_hash, late.hash
        uow.commit()
        late_id = late.id
    result = verify(db)
    assert not result.ok and result.event_id == late_id
