"""``factoryloop sim``: render frames, videos and labelled datasets from the simulated line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from factoryloop.sim import (
    PRESETS,
    SimError,
    Simulator,
    load_config,
    parse_config,
    preset,
    write_image_folder,
    write_video,
)
from factoryloop.sim.writers import write_yolo_dataset

app = typer.Typer(no_args_is_help=True, help="Simulated production line: frames, videos, datasets.")
console = Console(stderr=True)

SeedOpt = typer.Option(None, "--seed", help="Seed (default: the config's seed, 0).")
CountOpt = typer.Option(100, "--count", "-n", min=0, help="Number of frames.")
StartOpt = typer.Option(0, "--start", min=0, help="First frame index.")
WidthOpt = typer.Option(None, "--width", min=320, max=1280, help="Frame width in pixels.")
HeightOpt = typer.Option(None, "--height", min=240, max=1280, help="Frame height in pixels.")
ConfigOpt = typer.Option(None, "--config", "-c", exists=True, dir_okay=False, help="Simulator YAML config.")
PresetOpt = typer.Option(
    None,
    "--preset",
    "-p",
    help=f"A named line instead of --config: {', '.join(sorted(PRESETS))} (each with its own classes).",
)


def _simulator(
    config: Path | None,
    seed: int | None,
    width: int | None,
    height: int | None,
    preset_name: str | None = None,
) -> Simulator:
    try:
        if config and preset_name:
            raise SimError("give --config or --preset, not both")
        cfg = load_config(config) if config else preset(preset_name or "default")
        sizes = {k: v for k, v in (("width", width), ("height", height)) if v}
        data = cfg.model_dump()
        cfg = parse_config({**data, "camera": {**data["camera"], **sizes}}, "--width/--height")
        return Simulator(cfg, seed=seed)
    except SimError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@app.command()
def frames(
    out: Path = typer.Argument(..., help="Output folder (JPEG frames + labels.jsonl)."),
    seed: int | None = SeedOpt,
    count: int = CountOpt,
    start: int = StartOpt,
    width: int | None = WidthOpt,
    height: int | None = HeightOpt,
    config: Path | None = ConfigOpt,
    preset_name: str | None = PresetOpt,
) -> None:
    """Write JPEG frames and a labels.jsonl file (class ids and names of the line's class map)."""
    sim = _simulator(config, seed, width, height, preset_name)
    with _progress() as bar:
        task = bar.add_task("frames", total=count)
        write_image_folder(sim, out, count=count, start=start, progress=lambda n: bar.advance(task, n))
    console.print(f"wrote {count} frames to {out}")


@app.command()
def video(
    out: Path = typer.Argument(..., help="Output video (.mp4 for mp4v, .avi for MJPG)."),
    seed: int | None = SeedOpt,
    count: int = CountOpt,
    start: int = StartOpt,
    width: int | None = WidthOpt,
    height: int | None = HeightOpt,
    config: Path | None = ConfigOpt,
    preset_name: str | None = PresetOpt,
    codec: str = typer.Option("mp4v", help="mp4v or MJPG."),
) -> None:
    """Write a video file."""
    sim = _simulator(config, seed, width, height, preset_name)
    try:
        with _progress() as bar:
            task = bar.add_task("video", total=count)
            write_video(
                sim, out, count=count, start=start, codec=codec, progress=lambda n: bar.advance(task, n)
            )
    except SimError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"wrote {count} frames to {out}")


@app.command()
def dataset(
    out: Path = typer.Argument(..., help="Output folder of a YOLO dataset."),
    seed: int | None = SeedOpt,
    count: int = CountOpt,
    start: int = StartOpt,
    width: int | None = WidthOpt,
    height: int | None = HeightOpt,
    config: Path | None = ConfigOpt,
    preset_name: str | None = PresetOpt,
    val_every: int = typer.Option(5, min=0, help="Every N-th frame goes to val (0: none)."),
) -> None:
    """Write a labelled YOLO dataset (images, labels, data.yaml with the line's class map)."""
    sim = _simulator(config, seed, width, height, preset_name)
    with _progress() as bar:
        task = bar.add_task("dataset", total=count)
        data = write_yolo_dataset(
            sim, out, count=count, start=start, val_every=val_every, progress=lambda n: bar.advance(task, n)
        )
    console.print(f"wrote {data}")


@app.command("show-config")
def show_config(config: Path | None = ConfigOpt, preset_name: str | None = PresetOpt) -> None:
    """Print the effective configuration (defaults, a preset, or a YAML file validated) as YAML."""
    sim = _simulator(config, None, None, None, preset_name)
    typer.echo(sim.config.to_yaml())
