"""Reviews in the dataset store: which labels a supervisor gave, and each product's mark.

The retrain triggers count a product's reviews stored after its mark (a label id); queuing a retrain moves
the mark to the newest label. The rows live in the store's SQLite (tables ``reviews`` and ``review_marks``),
written in the same transaction as the label, so a count never runs ahead of what is stored.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

MARK_QUERY = "SELECT label_id FROM review_marks WHERE product = ?"


def record(db: sqlite3.Connection, label_id: int, product: str | None, action: str) -> None:
    db.execute("INSERT INTO reviews VALUES (?,?,?)", (label_id, product, action))
    if product is not None:
        db.execute("INSERT OR IGNORE INTO review_marks VALUES (?, 0, ?)", (product, time.time()))


def counts_query(classes: Sequence[str], actions: Sequence[str]) -> tuple[str, list[str]]:
    """SQL of the per-product count after each mark of the frames reviewed (each by its latest review),
    optionally only the given actions and reviews whose boxes include one of ``classes``."""
    # One frame reviewed twice (a supervisor went back and decided again) counts once, as its latest review.
    latest = (
        "r.label_id = (SELECT MAX(r2.label_id) FROM reviews r2 JOIN labels l2 ON l2.id = r2.label_id"
        " WHERE l2.image_hash = (SELECT image_hash FROM labels WHERE id = r.label_id))"
    )
    where = ["r.product = m.product", "r.label_id > m.label_id", latest]
    args: list[str] = []
    if actions:
        where.append(f"r.action IN ({','.join('?' * len(actions))})")
        args += actions
    if classes:
        where.append(
            "EXISTS (SELECT 1 FROM labels l, json_each(l.boxes) b WHERE l.id = r.label_id"
            f" AND json_extract(b.value, '$[0]') IN ({','.join('?' * len(classes))}))"
        )
        args += classes
    sql = (
        f"SELECT m.product, (SELECT COUNT(*) FROM reviews r WHERE {' AND '.join(where)}) AS n"
        " FROM review_marks m ORDER BY m.product"
    )
    return sql, args


def move_mark(db: sqlite3.Connection, product: str) -> int:
    label_id = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM labels").fetchone()[0])
    db.execute("INSERT OR REPLACE INTO review_marks VALUES (?,?,?)", (product, label_id, time.time()))
    return label_id
