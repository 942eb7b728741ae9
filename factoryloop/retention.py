"""What a retention job deletes, or with ``--dry-run`` would delete, per kind of data.

Each owner of data prunes its own (``factoryloop api prune``: the API's database and frame store;
``factoryloop dataset prune``: the dataset store; ``factoryloop topics retention``: the topics' settings);
they share the figures they report, the table that prints them and the progress bar of the long work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


def retention_days(days: int | None) -> int | None:
    """A retention setting as the jobs read it: ``0`` and ``None`` both mean "keep forever" (None)."""
    return days if days else None


def cutoff_of(days: int | None, now: datetime) -> datetime | None:
    """Records older than this go (None: kept forever)."""
    kept = retention_days(days)
    return None if kept is None else now - timedelta(days=kept)


@dataclass(frozen=True, slots=True)
class KindFigures:
    """One kind's figures: records deleted (or, dry, to delete) and their bytes, and what stays although it is
    older than the cutoff because something still needs it (a queued or reviewed frame, a dataset version's
    image, an open alert, ...)."""

    kind: str
    days: int | None  # the retention; None: kept forever
    cutoff: datetime | None
    rows: int = 0
    bytes: int = 0
    bytes_exact: bool = True  # False: estimated from the table's size per row (database rows)
    kept: int = 0
    note: str = ""


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def figures_table(title: str, figures: Sequence[KindFigures], *, dry_run: bool) -> Table:
    verb = "to delete" if dry_run else "deleted"
    table = Table("kind", "keep", "older than", verb, "bytes", "kept (still needed)", "note", title=title)
    for f in figures:
        if f.days is None:
            table.add_row(f.kind, "forever", "-", "0", "-", "-", f.note)
            continue
        size = human_bytes(f.bytes) if f.bytes_exact else f"~{human_bytes(f.bytes)}"
        cutoff = f.cutoff.strftime("%Y-%m-%d %H:%M UTC") if f.cutoff else "-"
        table.add_row(f.kind, f"{f.days} d", cutoff, f"{f.rows:,}", size, f"{f.kept:,}", f.note)
    return table


def summary_line(figures: Sequence[KindFigures], *, dry_run: bool) -> str:
    rows = sum(f.rows for f in figures)
    size = sum(f.bytes for f in figures)
    exact = all(f.bytes_exact for f in figures if f.rows)
    what = "would delete" if dry_run else "deleted"
    return f"{what} {rows:,} records, {'' if exact else '~'}{human_bytes(size)}" + (
        " (dry run: nothing changed)" if dry_run else ""
    )


def progress_bar(console: Console) -> Progress:
    """A bar per kind with its count and time left (rich, as the other long commands)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
