"""The review queue, kept by the sink in the transaction of the inserts.

Each newly inserted non-shadow inspection that is UNCERTAIN or sampled (as the queue always listed) and not
reviewed yet gets a ``review_queue`` row with its priority (``api.services.priority``): uncertainty from its
detections and thresholds; rarity from the per-day class counts of the last days (read **before** this batch
is counted, plus the detections of the batch's earlier outcomes, so the first sightings of a class score as
new); disagreement when a shadow outcome of the same frame (same agent, frame id and capture time) arrives in
the same batch or a later one: the champion's row is updated. A shadow outcome stored before its champion is
not compared (the agent publishes the champion first, and both are keyed by station: one partition, in
order). Reviews (from the API or the labels topic) take their row out of the queue and keep its priority and
what it was offered for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, tuple_, update

from api.db.models import ClassDayRow, DetectionRow, InspectionRow, ReviewQueueRow, ReviewRow
from api.db.upsert import insert_ignore, table
from api.services import priority as pr
from api.sink.summary import day_of

_CHUNK = 500  # keys per IN (...) probe
Key = tuple[Any, ...]


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _window_counts(conn: Connection, keys: set[Key], since: datetime) -> dict[Key, int]:
    """Detections per (line, product, class) in ``class_days`` from ``since`` on."""
    if not keys:
        return {}
    c = table(ClassDayRow).c
    cols = (c.line_id, c.product, c.class_name)
    out: dict[Key, int] = {}
    for chunk in _chunks(sorted(keys)):
        stmt = (
            select(*cols, func.sum(c.n)).where(c.day >= since, tuple_(*cols).in_(list(chunk))).group_by(*cols)
        )
        out.update({(line, product, name): int(n) for line, product, name, n in conn.execute(stmt)})
    return out


def _reviewed(conn: Connection, event_ids: list[str]) -> set[str]:
    col = table(ReviewRow).c.outcome_event_id
    out: set[str] = set()
    for chunk in _chunks(event_ids):
        out.update(conn.execute(select(col).where(col.in_(list(chunk)))).scalars())
    return out


def _classes(dets: list[dict[str, Any]] | list[Any]) -> set[str]:
    return {d["class_name"] if isinstance(d, dict) else d.class_name for d in dets}


def _queue_row(r: dict[str, Any], comp: pr.Components, reason: str) -> dict[str, Any]:
    p = comp.priority
    return {
        "outcome_event_id": r["event_id"],
        "ts": r["ts"],
        "captured_at": r["captured_at"],
        "line_id": r["line_id"],
        "product": r["product"],
        "agent_id": r["agent_id"],
        "frame_id": r["frame_id"],
        "frame_sha256": r["frame_sha256"],
        "uncertainty": comp.uncertainty,
        "rarity": comp.rarity,
        "disagreement": comp.disagreement,
        "priority": p,
        "rank": pr.rank(p, r["ts"]),
        "reason": reason,
    }


def _with_disagreement(row: dict[str, Any], score: float, part: str | None) -> bool:
    """Raise the row's disagreement to ``score`` (priority, rank and reason follow); False if not higher."""
    if score <= row["disagreement"]:
        return False
    comp = pr.Components(row["uncertainty"], row["rarity"], score)
    kept = [p for p in row["reason"].split("; ") if p and not p.startswith("shadow ")]
    row.update(
        disagreement=score,
        priority=comp.priority,
        rank=pr.rank(comp.priority, row["ts"]),
        reason=pr.join_reason([*kept, part]),
    )
    return True


def _stored_champions(conn: Connection, keys: set[Key]) -> dict[Key, tuple[dict[str, Any], str, set[str]]]:
    """Queued champions of frames ``(agent, frame id, capture time)``: queue row, verdict, classes."""
    if not keys:
        return {}
    q, i, d = table(ReviewQueueRow), table(InspectionRow), table(DetectionRow)
    found: dict[Key, tuple[dict[str, Any], str]] = {}
    for chunk in _chunks(sorted({k[:2] for k in keys})):
        stmt = (
            select(*q.c, i.c.verdict)
            .join(i, i.c.event_id == q.c.outcome_event_id)
            .where(tuple_(q.c.agent_id, q.c.frame_id).in_(list(chunk)))
        )
        for row in conn.execute(stmt):
            m = dict(row._mapping)
            k = (m["agent_id"], m["frame_id"], m["captured_at"])
            if k in keys:
                found[k] = (m, m.pop("verdict"))
    classes: dict[str, set[str]] = {m["outcome_event_id"]: set() for m, _ in found.values()}
    for chunk in _chunks(sorted(classes)):
        boxes = select(d.c.outcome_event_id, d.c.class_name).where(d.c.outcome_event_id.in_(list(chunk)))
        for box in conn.execute(boxes):
            classes[box.outcome_event_id].add(box.class_name)
    return {k: (m, v, classes[m["outcome_event_id"]]) for k, (m, v) in found.items()}


def _disagreements(
    conn: Connection,
    inspections: Sequence[dict[str, Any]],
    dets: dict[str, list[dict[str, Any]]],
    pending: dict[str, dict[str, Any]],
) -> None:
    """Compare each new shadow outcome with its champion: queued in this batch (``pending``, changed in
    place) or stored (updated)."""
    shadows = [r for r in inspections if r["shadow"]]
    if not shadows:
        return

    def key(r: dict[str, Any]) -> Key:
        return (r["agent_id"], r["frame_id"], r["captured_at"])

    local = {key(r): r for r in inspections if r["event_id"] in pending}
    frames = {s["frame_id"] for s in shadows}
    # A champion in this batch that is not queued needs no lookup either.
    in_batch = {key(r) for r in inspections if r["frame_id"] in frames and not r["shadow"]}
    stored = _stored_champions(conn, {key(s) for s in shadows} - in_batch)
    changed: dict[str, dict[str, Any]] = {}
    for s in shadows:
        k, shadow_side = key(s), (s["verdict"], _classes(dets.get(s["event_id"], [])))
        if k in local:
            champ = local[k]
            side = (champ["verdict"], _classes(dets.get(champ["event_id"], [])))
            _with_disagreement(pending[champ["event_id"]], *pr.disagreement(side, shadow_side))
        elif k in stored:
            row, verdict, classes = stored[k]
            if _with_disagreement(row, *pr.disagreement((verdict, classes), shadow_side)):
                changed[row["outcome_event_id"]] = row
    if changed:
        q = table(ReviewQueueRow)
        stmt = (
            update(q)
            .where(q.c.outcome_event_id == bindparam("b_id"))
            .values(
                disagreement=bindparam("b_d"),
                priority=bindparam("b_p"),
                rank=bindparam("b_rank"),
                reason=bindparam("b_why"),
            )
        )
        params = [
            {
                "b_id": e,
                "b_d": r["disagreement"],
                "b_p": r["priority"],
                "b_rank": r["rank"],
                "b_why": r["reason"],
            }
            for e, r in changed.items()
        ]
        conn.execute(stmt, params)


def enqueue(
    conn: Connection, inspections: Sequence[dict[str, Any]], detections: Sequence[dict[str, Any]]
) -> int:
    """Queue the newly inserted ``inspections`` that need a review, with their priority; apply the
    disagreement of new shadow outcomes. Call before the batch is counted into the summaries."""
    dets: dict[str, list[dict[str, Any]]] = {}
    for d in detections:
        dets.setdefault(d["outcome_event_id"], []).append(d)
    candidates: list[dict[str, Any]] = []
    walk: list[tuple[dict[str, Any], list[dict[str, Any]], bool]] = []  # what the rarity pass reads
    for r in inspections:
        if r["shadow"]:
            continue
        queued = r["verdict"] == "UNCERTAIN" or r["sample_reason"] is not None  # UNCERTAIN or sampled
        boxes = dets.get(r["event_id"])
        if queued:
            candidates.append(r)
        if queued or boxes is not None:
            walk.append((r, boxes or [], queued))
    keys = {(r["line_id"], r["product"] or "", d["class_name"]) for r, boxes, q in walk if q for d in boxes}
    counts: dict[Key, int] = {}
    if keys:  # the window: the last RARE_WINDOW_DAYS UTC days up to the batch's newest candidate
        since = day_of(max(r["ts"] for r in candidates)) - timedelta(days=pr.RARE_WINDOW_DAYS - 1)
        counts = _window_counts(conn, keys, since)
    reviewed = _reviewed(conn, [r["event_id"] for r in candidates]) if candidates else set()
    running: dict[Key, int] = {}
    pending: dict[str, dict[str, Any]] = {}
    for r, boxes, queued in walk:
        at = (r["line_id"], r["product"] or "")
        if queued and r["event_id"] not in reviewed:
            seen = {c: counts.get((*at, c), 0) + running.get((*at, c), 0) for c in _classes(boxes)}
            pairs = [(d["class_name"], d["confidence"]) for d in boxes]
            u, why_u = pr.uncertainty(r["verdict"], pairs, r["thresholds"])
            rare, why_r = pr.rarity(seen)
            pending[r["event_id"]] = _queue_row(r, pr.Components(u, rare), pr.join_reason([why_u, why_r]))
        for d in boxes:
            k = (*at, d["class_name"])
            running[k] = running.get(k, 0) + 1
    _disagreements(conn, inspections, dets, pending)
    return insert_ignore(conn, table(ReviewQueueRow), list(pending.values()))


def take_reviewed(conn: Connection, reviews: list[dict[str, Any]]) -> None:
    """Give review rows without a priority that of their queued inspection (and what it was offered for)."""
    todo = [r for r in reviews if r.get("priority") is None]
    if not todo:
        return
    q = table(ReviewQueueRow).c
    queued: dict[str, pr.Components] = {}
    for chunk in _chunks(sorted({r["outcome_event_id"] for r in todo})):
        stmt = select(q.outcome_event_id, q.uncertainty, q.rarity, q.disagreement).where(
            q.outcome_event_id.in_(list(chunk))
        )
        queued.update({e: pr.Components(u, rare, dis) for e, u, rare, dis in conn.execute(stmt)})
    for r in todo:
        comp = queued.get(r["outcome_event_id"])
        if comp is not None:
            r["priority"], r["offered_for"] = comp.priority, comp.offered_for


def dequeue(conn: Connection, outcome_event_ids: list[str]) -> None:
    """Take reviewed inspections out of the queue."""
    q = table(ReviewQueueRow).c
    for chunk in _chunks(sorted(set(outcome_event_ids))):
        conn.execute(delete(table(ReviewQueueRow)).where(q.outcome_event_id.in_(list(chunk))))
