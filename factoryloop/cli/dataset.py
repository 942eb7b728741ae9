"""``factoryloop dataset``: import, freeze, export and inspect datasets in the local dataset store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from factoryloop.products import ProductError, parse_class_map
from training.datasets import IMPORTERS, DatasetError, DatasetStats, DatasetStore, ImportPlan, get_importer
from training.datasets.product_import import import_for_product

app = typer.Typer(no_args_is_help=True, help="Import, version, export and inspect datasets.")
console = Console(stderr=True)
out = Console()

RootOpt = typer.Option(None, "--root", help="Store folder (default $FACTORYLOOP_HOME/datasets).")


def _store(root: Path | None) -> DatasetStore:
    return DatasetStore(root)


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(str(exc))}")
    return typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _print_stats(title: str, st: DatasetStats) -> None:
    out.print(
        f"[bold]{title}[/bold]: {st.images} images, {st.labelled} labelled, {st.defect_free} defect-free"
    )
    table = Table("class", "images", "boxes")
    for name in sorted(set(st.boxes_per_class) | set(st.images_per_class)):
        table.add_row(name, str(st.images_per_class.get(name, 0)), str(st.boxes_per_class.get(name, 0)))
    out.print(table)
    if st.per_split:
        out.print("splits: " + ", ".join(f"{k}={v}" for k, v in st.per_split.items()))
    out.print("provenance: " + ", ".join(f"{k}={v}" for k, v in st.per_provenance.items()))


#: Below this share of held-out images, the import says the evaluation will be noisy.
SMALL_HOLDOUT = 0.1


def held_out(plan: ImportPlan) -> str:
    """What the import holds out for the product's fixed evaluation set, said for people."""
    held = sum(1 for i in plan.images if i.split in ("val", "test"))
    if not held:
        return "held out by image hash (the dataset has no val/test split of its own)"
    share = held / max(1, len(plan.images))
    said = f"{held} images ({share:.0%}) held out by the dataset's own val/test split"
    if share < SMALL_HOLDOUT:
        said += (
            f": under {SMALL_HOLDOUT:.0%}, per-class figures on so few images are noisy; import with "
            "--ignore-splits to hold out by image hash instead"
        )
    return said


@app.command("import")
def import_(
    path: Path = typer.Argument(..., exists=True, help="Dataset folder (or COCO .json file)."),
    fmt: str = typer.Option(..., "--format", "-f", help=" | ".join(IMPORTERS)),
    product: str | None = typer.Option(
        None,
        "--product",
        "-p",
        help="Product of every imported image: created from the dataset's classes on its first import.",
    ),
    class_map: list[str] = typer.Option(
        [], "--map", help="DATASET_CLASS=PRODUCT_CLASS: import a class under the product's name (repeatable)."
    ),
    add_classes: bool = typer.Option(
        False, "--add-classes", help="Add the dataset's classes the product lacks to its class map."
    ),
    description: str = typer.Option("", "--description", help="Description of a product this creates."),
    source: str | None = typer.Option(
        None, "--source", help="Source name (default import:<format>:<folder>)."
    ),
    own_splits: bool = typer.Option(
        True,
        "--own-splits/--ignore-splits",
        help="Hold out the dataset's own val/test images (default), or ignore its split and hold out by "
        "image hash (FACTORYLOOP_TRAIN_GOLDEN_FRACTION): for a dataset whose own val split is too small.",
    ),
    root: Path | None = RootOpt,
) -> None:
    """Validate a whole dataset, then store it in one transaction (nothing is half-imported)."""
    try:
        mapping = parse_class_map(class_map)
        if (mapping or add_classes) and not product:
            raise DatasetError("--map and --add-classes fit classes to a product: pass --product")
        importer = get_importer(fmt)
        with _progress() as bar:
            task = bar.add_task("validating", total=None)
            plan = importer(path, progress=lambda n: bar.advance(task, n))
            if not own_splits:
                plan = dataclasses.replace(
                    plan, images=tuple(dataclasses.replace(i, split=None) for i in plan.images)
                )
            commit = bar.add_task("storing", total=len(plan.images))
            with _store(root) as store:
                advance = lambda n: bar.advance(commit, n)  # noqa: E731
                if product:
                    done = import_for_product(
                        store,
                        plan,
                        product,
                        mapping=mapping,
                        add_classes=add_classes,
                        description=description,
                        source=source,
                        progress=advance,
                    )
                    hashes, fit = done.hashes, done.fit
                else:
                    hashes, fit = store.import_plan(plan, source=source, progress=advance), None
                st = store.stats()
    except (DatasetError, ProductError) as exc:
        raise _fail(exc) from exc
    out.print(
        f"imported {len(hashes)} images ({len(set(hashes))} unique), classes: {', '.join(plan.class_names)}",
        markup=False,
    )
    if fit is not None:
        what = "created" if fit.created else (f"added {', '.join(fit.added)} to" if fit.added else "into")
        out.print(
            f"product {fit.product.name}: {what} its class map ({', '.join(fit.product.class_names)}); "
            + held_out(plan),
            markup=False,
        )
    _print_stats("store", st)


@app.command()
def freeze(
    name: str = typer.Argument(..., help="Version name (immutable)."),
    source: list[str] = typer.Option([], "--source", help="Only images from this source (repeatable)."),
    product: list[str] = typer.Option([], "--product", help="Only images of this product (repeatable)."),
    provenance: list[str] = typer.Option(
        [], "--provenance", help="Only effective labels of this provenance."
    ),
    classes: str | None = typer.Option(None, "--classes", help="Comma-separated class names, in id order."),
    test_fraction: float = typer.Option(0.2, min=0.0, max=0.99),
    root: Path | None = RootOpt,
) -> None:
    """Freeze the matching labelled images into an immutable version."""
    try:
        with _store(root) as store:
            v = store.freeze_version(
                name,
                sources=source or None,
                products=product or None,
                provenances=provenance or None,
                class_names=classes.split(",") if classes else None,
                test_fraction=test_fraction,
            )
            st = store.stats(v)
    except DatasetError as exc:
        raise _fail(exc) from exc
    out.print(f"version {v.name} sha256={v.sha256}")
    _print_stats(v.name, st)


@app.command("list")
def list_(root: Path | None = RootOpt) -> None:
    """List dataset versions."""
    with _store(root) as store:
        table = Table("name", "sha256", "images", "classes")
        for v in store.list_versions():
            table.add_row(v.name, v.sha256[:16], str(len(v.manifest["images"])), ", ".join(v.class_names))
    out.print(table)


@app.command()
def show(
    ref: str = typer.Argument(..., help="Version name or sha256 prefix."), root: Path | None = RootOpt
) -> None:
    """Show one version: hash, class map, selection and statistics."""
    try:
        with _store(root) as store:
            v = store.get_version(ref)
            st = store.stats(v)
    except DatasetError as exc:
        raise _fail(exc) from exc
    out.print(f"version {v.name}\nsha256 {v.sha256}\nclasses {list(v.class_names)}")
    out.print(f"selection {v.manifest['selection']} test_fraction {v.manifest['test_fraction']}")
    _print_stats(v.name, st)


@app.command()
def export(
    ref: str = typer.Argument(..., help="Version name or sha256 prefix."),
    out_dir: Path = typer.Argument(..., help="Output folder of the YOLO dataset."),
    root: Path | None = RootOpt,
) -> None:
    """Export a version as an ultralytics YOLO folder; prints the data.yaml path."""
    try:
        with _store(root) as store:
            data = store.export_yolo(store.get_version(ref), out_dir)
    except DatasetError as exc:
        raise _fail(exc) from exc
    out.print(str(data))


@app.command()
def prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; change nothing."),
    root: Path | None = RootOpt,
) -> None:
    """Delete images older than FACTORYLOOP_TRAIN_RETENTION_IMAGES_DAYS that no dataset version (golden sets
    included) uses and that have no truth, pseudo or review label (docs/operations.md "Retention")."""
    from factoryloop.retention import figures_table, progress_bar, summary_line
    from training.datasets.prune import KIND, prune_images
    from training.settings import get_settings

    s = get_settings()
    with _store(root) as store, progress_bar(console) as bar:
        task = bar.add_task(KIND, total=None)
        figures = prune_images(
            store,
            s.retention_images_days,
            dry_run=dry_run,
            batch_size=s.retention_batch_size,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    out.print(figures_table("dataset store" + (" (dry run)" if dry_run else ""), [figures], dry_run=dry_run))
    out.print(summary_line([figures], dry_run=dry_run))


@app.command()
def stats(
    ref: str | None = typer.Argument(None, help="Version (default: the whole store)."),
    root: Path | None = RootOpt,
) -> None:
    """Per-class image and box counts of a version or of the whole store."""
    try:
        with _store(root) as store:
            st = store.stats(ref)
    except DatasetError as exc:
        raise _fail(exc) from exc
    _print_stats(ref or "store", st)
