"""The ``foncier`` command: territories, profiles, layers, siting maps and scores.

Run ``foncier --help`` for the list of commands and ``foncier COMMAND --help`` for one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from layers.errors import FoncierError

app = typer.Typer(
    name="foncier",
    help=(
        "Find and rank land for industrial projects in France: territories, infrastructure, "
        "constraints, scores and interactive maps."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
T = TypeVar("T")

TerritoryArg = Annotated[
    str,
    typer.Argument(
        help=(
            "Preset id (grand-compiegnois, chalons-en-champagne, chartres-metropole, alencon, "
            "soissonnais-valois), EPCI SIREN(s), commune INSEE code(s) or département code "
            "(comma-separated), or a boundary file."
        ),
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile", "-p", help="Project profile id or TOML file (see `foncier profiles`)."
    ),
]
SitesOpt = Annotated[
    str,
    typer.Option(
        "--sites",
        "-s",
        help="Candidate sites: hex:auto (about 1,000 cells), hex:<m>, grid:<m>, a file or a "
        "PostGIS URL postgresql://…?table=schema.name.",
    ),
]
OnlineOpt = Annotated[
    bool,
    typer.Option(
        "--online/--offline",
        help="Also load online layers (OpenStreetMap, IGN WFS); default: embedded data only.",
    ),
]
SourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        help="Source of a layer as LAYER=PATH, e.g. flood_zones=ppr.gpkg, slope=dem.tif or "
        "flood_zones=postgresql:///?service=sig&table=risques.ppri (repeatable).",
    ),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show the log.")]


def _territory(spec: str) -> Any:
    from layers.territories import territory

    if "," in spec:
        return territory([s.strip() for s in spec.split(",") if s.strip()])
    return territory(spec)


def _sources(items: list[str] | None) -> dict[str, str]:
    from layers.postgis import mask_url

    out: dict[str, str] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"--source {mask_url(item)!r}: expected LAYER=PATH.")
        out[name.strip()] = path.strip()
    return out


def _picture_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise typer.BadParameter(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1600x1000.")
    return int(width), int(height)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
        force=True,
    )


@contextmanager
def _progress(total: int | None = None) -> Iterator[Callable[[str], None]]:
    """A progress bar advanced by each step; yields ``advance(description)``."""
    columns = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("démarrage", total=total)

        def advance(text: str) -> None:
            bar.update(task, description=text, advance=1)

        yield advance


def _fail(exc: FoncierError) -> None:
    console.print(f"[bold red]Error:[/] {exc}")
    raise typer.Exit(code=1)


def _run_study(
    territory: str,
    step: str,
    action: Callable[[Any], T],
    *,
    source: list[str] | None,
    top: int,
    **kwargs: Any,
) -> tuple[Any, T]:
    """Run the siting study behind a progress bar, then ``action(study)`` as its last step."""
    from foncier.pipeline import siting_study

    with _progress() as advance:
        study = siting_study(
            _territory(territory),
            sources=_sources(source),
            top_n=top,
            progress=advance,
            **kwargs,
        )
        advance(step)
        return study, action(study)


@app.command()
def territories() -> None:
    """List the preset territories (the five reference Territoires d'industrie)."""
    from layers.territories import presets

    table = Table(title="Territoires prédéfinis")
    table.add_column("id", no_wrap=True)
    for col in ("nom", "EPCI", "départements", "profil par défaut"):
        table.add_column(col)
    for p in presets().values():
        table.add_row(p.id, p.name, str(len(p.epci)), ", ".join(p.departements), p.profile)
    Console().print(table)


@app.command()
def profiles() -> None:
    """List the project profiles with their criteria and weights."""
    from foncier.engine.profiles import list_profiles, load_profile

    out = Console()
    for pid in list_profiles()["id"]:
        prof = load_profile(pid)
        table = Table(title=f"{prof.id} — {prof.name}", title_justify="left")
        for col in ("critère", "couche", "mesure", "poids"):
            table.add_column(col)
        for c in prof.criteria:
            table.add_row(c.label, c.layer or "(site)", c.measure, f"{c.weight:.0%}")
        for e in prof.exclusions:
            table.add_row(f"[red]exclusion[/] {e.label}", e.layer or "(site)", e.measure, "—")
        out.print(table)


@app.command()
def layers(
    territory: TerritoryArg,
    count: Annotated[
        bool, typer.Option("--count/--no-count", help="Count the offline features.")
    ] = True,
) -> None:
    """List the layers available offline (embedded) and online for a territory.

    The "couverture" column tells whether each layer has data there: a layer "hors
    couverture" knows nothing of the territory, which is not the same as nothing near.
    """
    from layers.catalog import available_layers

    try:
        t = _territory(territory)
        table_df = available_layers(t, count=count)
    except FoncierError as exc:
        _fail(exc)
        return
    table = Table(title=f"Couches — {t.name}")
    table.add_column("couche", no_wrap=True)
    for col in ("hors ligne", "en ligne", "entités", "couverture", "source"):
        table.add_column(col)
    covered = {"full": "oui", "partial": "[yellow]partielle[/]", "none": "[red]hors couverture[/]"}
    online_covered = {"full": " (en ligne : oui)", "partial": " (en ligne : partielle)", "none": ""}
    for row in table_df.to_dict("records"):
        needs = str(row["needs"])
        online = "oui" if row["online"] else (f"fichier ({needs})" if needs else "—")
        n = row.get("features")
        counted = n is not None and not pd.isna(n)
        table.add_row(
            str(row["layer"]),
            "[green]oui[/]" if row["offline"] else ("sites nommés" if counted else "—"),
            online,
            str(n) if counted else "",
            covered[str(row["covered"])]
            + (
                online_covered[str(row["covered_online"])]
                if row["covered_online"] != row["covered"]
                else ""
            ),
            str(row["source"]),
        )
    Console().print(table)


@app.command("map")
def map_(
    territory: TerritoryArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "carte.html"
    ),
    profile: ProfileOpt = None,
    sites: SitesOpt = "hex:auto",
    no_score: Annotated[
        bool, typer.Option("--no-score", help="Plain territory map, without scoring.")
    ] = False,
    top: Annotated[int, typer.Option("--top", help="Number of sites labelled by rank.")] = 10,
    draws: Annotated[int, typer.Option(help="Monte-Carlo draws for rank stability.")] = 200,
    png: Annotated[
        Path | None, typer.Option("--png", help="Also save a PNG picture (headless Chromium).")
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Also save a one-page PDF (headless Chromium).")
    ] = None,
    picture_size: Annotated[
        str, typer.Option("--size", help="Size of the PNG / PDF picture, WIDTHxHEIGHT pixels.")
    ] = "1600x1000",
    self_contained: Annotated[
        bool, typer.Option("--self-contained", help="Inline JS/CSS: the file needs no network.")
    ] = False,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            "-w",
            help="New weights for criteria of the profile, e.g. rail_freight=0.4,river_port=0.3 "
            "(the others keep theirs; all normalised). The map, PNG and PDF use them.",
        ),
    ] = None,
    online: OnlineOpt = False,
    source: SourceOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write an interactive siting map of a territory (HTML, optionally PNG and PDF)."""
    _setup_logging(verbose)
    width, height = _picture_size(picture_size)
    from foncier.engine.profiles import parse_weights

    try:
        new_weights = parse_weights(weights) if weights is not None else None
        if new_weights is not None and no_score:
            raise typer.BadParameter("--weights needs a scored map: drop --no-score.")
    except FoncierError as exc:
        _fail(exc)
        return
    from maps.export import save_html, save_png

    try:
        if no_score:
            from foncier.reports.mapping import territory_map

            m = territory_map(_territory(territory))
        else:
            study, m = _run_study(
                territory,
                "carte",
                lambda study: study.map(),
                profile=profile,
                sites=sites,
                source=source,
                online=online,
                draws=draws,
                top=top,
                weights=new_weights,
            )
            _print_top(study, top)
        path = save_html(m, output, self_contained=self_contained)
        size = path.stat().st_size / 1e6
        console.print(f"[green]Carte écrite :[/] {path} ({size:.1f} Mo)")
        for picture, as_pdf in ((png, False), (pdf, True)):
            if picture is not None:
                out = save_png(path, picture, width=width, height=height, pdf=as_pdf)
                console.print(f"[green]Image écrite :[/] {out}")
    except FoncierError as exc:
        _fail(exc)


def _print_top(study: Any, n: int) -> None:
    best = study.top(n)
    table = Table(title=f"{study.territory.name} — {study.profile.name}", title_justify="left")
    for col in ("rang", "site", "commune", "score", "top-N", "pourquoi"):
        table.add_column(col, overflow="fold")
    for _, row in best.iterrows():
        p_top = row.get("p_top_n")
        table.add_row(
            str(row["rank"]) + (" (ex aequo)" if bool(row.get("ex_aequo", False)) else ""),
            str(row.get("site_id", "")),
            str(row.get("commune", "")),
            f"{row['score']:.1f}",
            "" if p_top is None else f"{p_top:.0%}",
            str(row.get("why", "")),
        )
    console.print(table)
    skipped = study.scored.attrs.get("foncier", {}).get("skipped", [])
    if skipped:
        console.print("[yellow]Non évalués :[/] " + " ; ".join(str(s) for s in skipped))
    _print_diagnostics(study, n)


def _print_diagnostics(study: Any, n: int) -> None:
    """Whether the ranking singles out its top N, and what each criterion does."""
    from foncier.engine.diagnostics import ranking_diagnostics

    diag = ranking_diagnostics(study.scored, top_n=n)
    table = Table(title="Ce qui départage les sites", title_justify="left")
    for col in ("critère", "à 0", "à 1", "étendue", f"écart top {n} / médiane"):
        table.add_column(col, justify="left" if col == "critère" else "right")
    for c in diag.criteria:
        sep = "—" if c.separation != c.separation else f"{c.separation:+.2f}".replace(".", ",")
        table.add_row(
            c.label + (" [yellow](saturé)[/]" if c.saturated else ""),
            f"{c.share_at_min:.0%}",
            f"{c.share_at_max:.0%}",
            f"{c.spread:.2f}".replace(".", ","),
            sep + (" [green]✓[/]" if c.separates else ""),
        )
    console.print(table)
    console.print(
        f"{diag.n_tied_first} site(s) à égalité en tête ; écart du top {n} : "
        f"{diag.top_n_spread:.1f} points".replace(".", ",")
    )
    if diag.discriminates:
        console.print(f"[green]{diag.message}[/]")
    else:
        console.print(f"[bold yellow]{diag.message}[/]")


@app.command()
def score(
    territory: TerritoryArg,
    profile: ProfileOpt = None,
    sites: SitesOpt = "hex:auto",
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Output: .gpkg (with QGIS styles), .parquet, .csv, .xlsx, or a PostGIS URL "
            "postgresql://…?schema=S&table=T (tables and QGIS styles in the database).",
        ),
    ] = "sites.gpkg",
    top: Annotated[int, typer.Option("--top", help="Size of the shortlist.")] = 10,
    draws: Annotated[int, typer.Option(help="Monte-Carlo draws for rank stability.")] = 200,
    online: OnlineOpt = False,
    source: SourceOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Score candidate sites for a project profile and write them with their breakdown."""
    _setup_logging(verbose)
    from foncier.reports.exports import export_study

    try:
        study, path = _run_study(
            territory,
            "écriture",
            lambda study: export_study(study, output),
            profile=profile,
            sites=sites,
            source=source,
            online=online,
            draws=draws,
            top=top,
        )
        _print_top(study, top)
        console.print(f"[green]Sites écrits :[/] {path} ({len(study.scored)} sites)")
    except FoncierError as exc:
        _fail(exc)


@app.command()
def fiches(
    territory: TerritoryArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the site sheets (HTML).")
    ] = Path("fiches"),
    profile: ProfileOpt = None,
    sites: SitesOpt = "hex:auto",
    top: Annotated[int, typer.Option("--top", help="Number of sites with a sheet.")] = 10,
    draws: Annotated[int, typer.Option(help="Monte-Carlo draws for rank stability.")] = 200,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print each sheet to PDF.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write the sheets even when the ranking does not single out sites."
        ),
    ] = False,
    online: OnlineOpt = False,
    source: SourceOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write a one-page sheet ("fiche site") for each of the best sites, plus an index.

    Refuses (exit code 1) when the ranking does not single out its top sites, unless --force.
    """
    _setup_logging(verbose)
    from foncier.reports.fiche import site_sheets
    from layers.errors import RankingError

    try:
        _, paths = _run_study(
            territory,
            "fiches",
            lambda study: site_sheets(study, output, top_n=top, pdf=pdf, force=force),
            profile=profile,
            sites=sites,
            source=source,
            online=online,
            draws=draws,
            top=top,
        )
        console.print(f"[green]Fiches écrites :[/] {len(paths)} fichiers dans {output}")
    except RankingError as exc:
        console.print(f"[bold red]Fiches non écrites.[/] {exc}")
        raise typer.Exit(code=1) from None
    except FoncierError as exc:
        _fail(exc)


@app.command()
def fetch(
    territory: TerritoryArg,
    layer: Annotated[
        list[str] | None, typer.Option("--layer", "-l", help="Layer to fetch (repeatable).")
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Pre-fetch the online layers of a territory into the cache, for offline work later."""
    _setup_logging(verbose)
    from layers.catalog import LAYERS, load_layer
    from layers.prefetch import prefetch

    try:
        t = _territory(territory)
        names = layer or [n for n, i in LAYERS.items() if not i.offline and i.needs != "file"]
        # the online part of each layer (OpenStreetMap for ports, platforms and ZAE)
        loaders = [
            (n, lambda tt, n=n: load_layer(tt, n, source=LAYERS[n].online_source)) for n in names
        ]
        columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("téléchargement", total=len(names))
            results = prefetch(
                t,
                layers=loaders,
                progress=lambda name, done, total: bar.update(
                    task, completed=done, description=f"téléchargé : {name}"
                ),
            )
    except FoncierError as exc:
        _fail(exc)
        return
    for name, result in results.items():
        if isinstance(result, Exception):
            console.print(f"[red]{name}[/]: {result}")
        else:
            console.print(f"  {name}: {result} entités")
    if any(isinstance(r, Exception) for r in results.values()):
        raise typer.Exit(code=1)


def main() -> None:
    """Entry point of the ``foncier`` console script."""
    app()
