"""``factoryloop product``: the plant's products and their class maps (see factoryloop.products)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from factoryloop.products import Product, ProductCatalog, ProductError

app = typer.Typer(no_args_is_help=True, help="Create products and manage their class maps.")
out = Console()

RootOpt = typer.Option(None, "--root", help="Dataset store folder (default $FACTORYLOOP_HOME/datasets).")


def _catalog(root: Path | None) -> ProductCatalog:
    return ProductCatalog(root / "products" if root is not None else None)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _names(csv: str) -> list[str]:
    return [n.strip() for n in csv.split(",") if n.strip()]


def _show(p: Product) -> None:
    out.print(f"[bold]{p.name}[/bold] {p.description}".rstrip(), highlight=False)
    table = Table("id", "class", "former names", "merged into")
    for c in p.classes:
        merged = p.classes[c.merged_into].name if c.merged_into is not None else ""
        table.add_row(str(c.id), c.name, ", ".join(c.former_names), merged)
    out.print(table)
    for h in p.history:
        out.print(f"  {h.at:%Y-%m-%d %H:%M:%S} {h.action:<13} {h.detail} (by {h.by})", markup=False)


@app.command()
def create(
    name: str = typer.Argument(..., help="Product name (letters, digits, _ . -)."),
    classes: str = typer.Option(..., "--classes", help="Comma-separated class names, in id order."),
    description: str = typer.Option("", "--description"),
    root: Path | None = RootOpt,
) -> None:
    """Create a product with its class map (ids 0.. in the order given)."""
    try:
        _show(_catalog(root).create(name, _names(classes), description=description))
    except ProductError as exc:
        raise _fail(exc) from exc


@app.command("list")
def list_(root: Path | None = RootOpt) -> None:
    """Every product with its classes."""
    try:
        products = _catalog(root).products()
    except ProductError as exc:
        raise _fail(exc) from exc
    table = Table("product", "classes", "description")
    for p in products:
        table.add_row(p.name, ", ".join(p.active_class_names), p.description)
    out.print(table)


@app.command()
def show(name: str, root: Path | None = RootOpt) -> None:
    """A product's class map (ids, former names, merges) and its recorded changes."""
    try:
        _show(_catalog(root).get(name))
    except ProductError as exc:
        raise _fail(exc) from exc


@app.command("add-class")
def add_class(
    name: str,
    classes: list[str] = typer.Argument(..., help="New class names (each gets the next id)."),
    root: Path | None = RootOpt,
) -> None:
    """Append classes to a product's class map; existing ids never change."""
    try:
        _show(_catalog(root).update(name, lambda p: p.with_classes_added(classes)))
    except ProductError as exc:
        raise _fail(exc) from exc


@app.command("rename-class")
def rename_class(name: str, old: str, new: str, root: Path | None = RootOpt) -> None:
    """Rename a class (same id; labels stored under the old name keep counting as it)."""
    try:
        _show(_catalog(root).update(name, lambda p: p.with_class_renamed(old, new)))
    except ProductError as exc:
        raise _fail(exc) from exc


@app.command("merge-class")
def merge_class(
    name: str,
    source: str,
    into: str = typer.Option(..., "--into", help="The class that absorbs SOURCE."),
    root: Path | None = RootOpt,
) -> None:
    """Retire SOURCE into another class: its labels count as that class from the next retrain on."""
    try:
        _show(_catalog(root).update(name, lambda p: p.with_class_merged(source, into)))
    except ProductError as exc:
        raise _fail(exc) from exc


@app.command()
def describe(name: str, text: str, root: Path | None = RootOpt) -> None:
    """Set a product's description."""
    try:
        _show(_catalog(root).update(name, lambda p: p.with_description(text)))
    except ProductError as exc:
        raise _fail(exc) from exc
