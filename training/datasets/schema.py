"""The dataset store's SQLite schema, and the additions older stores get when they are opened."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    hash TEXT PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL,
    source TEXT NOT NULL, product TEXT, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT, image_hash TEXT NOT NULL REFERENCES images(hash),
    provenance TEXT NOT NULL, source_ref TEXT NOT NULL, created_at REAL NOT NULL, boxes TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS labels_image ON labels(image_hash);
CREATE TABLE IF NOT EXISTS class_maps (name TEXT PRIMARY KEY, class_names TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, created_at REAL NOT NULL, manifest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
    label_id INTEGER PRIMARY KEY REFERENCES labels(id), product TEXT, action TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reviews_product ON reviews(product, label_id);
CREATE TABLE IF NOT EXISTS review_marks (
    product TEXT PRIMARY KEY, label_id INTEGER NOT NULL, marked_at REAL NOT NULL);
"""


def create_schema(db: sqlite3.Connection) -> None:
    """Create the tables if missing; add the columns a store made by an older version lacks."""
    db.executescript(SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(images)")}
    if "split" not in columns:  # stores made before datasets' own splits were kept
        db.execute("ALTER TABLE images ADD COLUMN split TEXT")
