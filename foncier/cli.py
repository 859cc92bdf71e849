"""The ``foncier`` command: territories, profiles, layers, siting maps and scores.

Run ``foncier --help`` for the list of commands and ``foncier COMMAND --help`` for one.

Exit codes
----------
0 success; 1 unexpected internal error (a short message says how to report it, the
traceback is shown with ``--debug``); 2 bad usage (an option or argument of the wrong
type, range or form); 3 bad input (territory, profile, sites file, output path, data that
does not fit); 4 a data source could not deliver (a file named with ``--source`` or
``--sites`` missing or unreadable, a web service down, offline mode without the cache);
130 interrupted (Ctrl-C); 143 terminated (SIGTERM). Temporary files are removed in every
case and no output is ever half-written.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from layers.errors import (
    ArgumentError,
    DataSourceError,
    FoncierError,
)

app = typer.Typer(
    name="foncier",
    help=(
        "Find and rank land for industrial projects in France: territories, infrastructure, "
        "constraints, scores and interactive maps."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help and usage errors: a message is never cut by a box nor read as markup.
    rich_markup_mode=None,
)
console = Console(stderr=True)
T = TypeVar("T")

#: Exit codes of the command (see the module docstring and the README).
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_SOURCE = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

#: Where to report an unexpected error.
REPORT_HINT = (
    "This is a bug in foncier, not in your input. Please report it with the command you ran "
    "and the output of the same command with --debug (it shows the traceback)."
)

_state = {"debug": False}


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM.

    A ``BaseException`` like ``KeyboardInterrupt``: it unwinds through every ``finally`` and
    context manager, so temporary files are removed exactly as on Ctrl-C.
    """


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated


def install_sigterm_handler() -> None:
    """Turn SIGTERM into :class:`Terminated` so that temporary files are cleaned up."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def exit_code(exc: BaseException) -> int:
    """The documented exit code for an exception (see the module docstring)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED
    if isinstance(exc, ArgumentError):
        return EXIT_USAGE
    if isinstance(exc, DataSourceError):
        return EXIT_SOURCE
    if isinstance(exc, FoncierError):
        return EXIT_INPUT
    return EXIT_INTERNAL


def _say(label: str, message: str, style: str = "bold red") -> None:
    """Print ``label message`` on stderr; the message is plain text, never Rich markup."""
    line = Text(label, style=style)
    line.append(" ")
    line.append(message)
    console.print(line, highlight=False, soft_wrap=True)


def _guarded(command: Callable[..., T]) -> Callable[..., T]:
    """Run a command so that no Python traceback ever reaches the user.

    A :class:`FoncierError` becomes ``Error: message`` and its exit code; Ctrl-C and SIGTERM
    a short line and 130 / 143; any other exception a short message, how to report it and
    exit 1 (the traceback with ``--debug``).
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter, SystemExit):
            raise
        except FoncierError as exc:
            _say("Error:", str(exc))
            raise typer.Exit(code=exit_code(exc)) from None
        except KeyboardInterrupt:
            _say("Interrompu.", "No output was written or altered.", style="bold yellow")
            raise typer.Exit(code=EXIT_INTERRUPTED) from None
        except Terminated:
            _say("Arrêté (SIGTERM).", "No output was written or altered.", style="bold yellow")
            raise typer.Exit(code=EXIT_TERMINATED) from None
        except Exception as exc:
            if _state["debug"]:
                console.print(Text("".join(traceback.format_exception(exc))), highlight=False)
            _say("Unexpected error:", f"{type(exc).__name__}: {exc}")
            _say("", REPORT_HINT, style="")
            raise typer.Exit(code=EXIT_INTERNAL) from None

    return run


@app.callback()
def _options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the Python traceback of an unexpected error (to report it)."
        ),
    ] = False,
) -> None:
    """Find and rank land for industrial projects in France."""
    _state["debug"] = debug or os.environ.get("FONCIER_DEBUG", "") not in ("", "0")


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
    bool | None,
    typer.Option(
        "--online/--offline",
        help="--online: always ask the online layers (OpenStreetMap, IGN WFS) for the data "
        "not in the cache; --offline: embedded data only. Default (auto, or FONCIER_ONLINE): "
        "use them from the cache, or from the web when a quick check (1.5 s at most) finds "
        "their hosts; a layer not obtained falls back on the embedded data, and the command "
        "says which.",
        show_default=False,
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
        if not sep or not name.strip() or not path.strip():
            raise ArgumentError(
                f"--source {mask_url(item)!r}: expected LAYER=PATH, e.g. slope=dem.tif."
            )
        if name.strip() in out:
            raise ArgumentError(f"--source {name.strip()!r} is given twice.")
        out[name.strip()] = path.strip()
    return out


def _picture_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise ArgumentError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1600x1000.")
    if int(width) > 10_000 or int(height) > 10_000:
        raise ArgumentError(f"--size {text!r}: at most 10000 pixels a side.")
    return int(width), int(height)


def _check_count(value: int, option: str, minimum: int) -> None:
    from layers.arguments import check_int

    check_int(value, option, minimum=minimum)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False, markup=False)],
        force=True,
    )


@contextmanager
def _progress(total: int | None = None) -> Iterator[Callable[[str], None]]:
    """A progress bar advanced by each step; yields ``advance(description)``."""
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("démarrage", total=total)

        def advance(text: str) -> None:
            bar.update(task, description=text, advance=1)

        yield advance


def _fail(exc: FoncierError) -> None:
    _say("Error:", str(exc))
    raise typer.Exit(code=exit_code(exc))


def _run_study(
    territory: str,
    step: str,
    action: Callable[[Any], T],
    *,
    source: list[str] | None,
    top: int,
    draws: int,
    **kwargs: Any,
) -> tuple[Any, T]:
    """Run the siting study behind a progress bar, then ``action(study)`` as its last step."""
    from foncier.engine.sites import parse_sites_spec
    from foncier.pipeline import siting_study

    sources = _sources(source)
    parse_sites_spec(kwargs.get("sites", "hex:auto"))  # a bad --sites fails now, not later
    _check_count(top, "--top", 1)
    _check_count(draws, "--draws", 0)
    with _progress() as advance:
        study = siting_study(
            _territory(territory),
            sources=sources,
            top_n=top,
            draws=draws,
            progress=advance,
            **kwargs,
        )
        advance(step)
        result = action(study)
    _print_online(study, kwargs.get("online"))
    return study, result


def _print_online(study: Any, asked: bool | None) -> None:
    """Which online layers the ranking used (with their date) and which it could not get."""
    from layers.config import settings
    from layers.online import summary_lines

    mode = settings.online if asked is None else asked
    statuses = list(study.online_status.values())
    if mode is False:
        console.print(
            Text("Couches en ligne : non demandées (--offline) ; données embarquées seulement.")
        )
        return
    if not statuses:
        return
    missing = [s for s in statuses if not s.used]
    used = len(statuses) - len(missing)
    kind = "mode auto" if mode == "auto" else "mode toujours"
    title = f"Couches en ligne ({kind}) : {used} utilisée(s)"
    title += f", {len(missing)} non obtenue(s)" if missing else ""
    if missing and mode is True:
        _say("Attention :", f"--online demandé, mais {len(missing)} couche(s) en ligne non "
             "obtenue(s) : le classement repose sur les données embarquées pour celles-ci.",
             style="bold red")  # fmt: skip
    console.print(Text(title, style="yellow" if missing else "green"))
    for line in summary_lines(statuses):
        console.print(Text(f"  {line}"), soft_wrap=True)


@app.command()
@_guarded
def territories() -> None:
    """List the preset territories (the five reference Territoires d'industrie)."""
    from layers.territories import presets

    table = Table(title="Territoires prédéfinis")
    table.add_column("id", no_wrap=True)
    for col in ("nom", "EPCI", "départements", "profil par défaut"):
        table.add_column(col)
    for p in presets().values():
        table.add_row(
            Text(p.id), Text(p.name), str(len(p.epci)), Text(", ".join(p.departements)),
            Text(str(p.profile)),
        )  # fmt: skip
    Console().print(table)


@app.command()
@_guarded
def profiles() -> None:
    """List the project profiles with their criteria and weights."""
    from foncier.engine.profiles import list_profiles, load_profile

    out = Console()
    for pid in list_profiles()["id"]:
        prof = load_profile(pid)
        table = Table(title=Text(f"{prof.id} — {prof.name}"), title_justify="left")
        for col in ("critère", "couche", "mesure", "poids"):
            table.add_column(col)
        for c in prof.criteria:
            table.add_row(
                Text(c.label), Text(c.layer or "(site)"), Text(c.measure), f"{c.weight:.0%}"
            )
        for e in prof.exclusions:
            label = Text("exclusion", style="red")
            label.append(f" {e.label}")
            table.add_row(label, Text(e.layer or "(site)"), Text(e.measure), "—")
        out.print(table)


@app.command()
@_guarded
def layers(
    territory: TerritoryArg,
    count: Annotated[
        bool, typer.Option("--count/--no-count", help="Count the offline features.")
    ] = True,
) -> None:
    """List the layers available offline (embedded) and online for a territory.

    The "couverture" column tells whether each layer has data there: a layer "hors
    couverture" knows nothing of the territory, which is not the same as nothing near; a
    "partielle" one says what its offline data lacks there (free motorway junctions …).
    """
    import pandas as pd

    from layers.catalog import available_layers

    t = _territory(territory)
    table_df = available_layers(t, count=count)
    table = Table(title=Text(f"Couches — {t.name}"))
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
            Text(str(row["layer"])),
            Text("oui", style="green") if row["embedded"] else Text("—"),
            Text(online),
            str(n) if counted else "",
            covered[str(row["covered"])]
            + (f" : {row['gaps']}" if row.get("gaps") else "")
            + (
                online_covered[str(row["covered_online"])]
                if row["covered_online"] != row["covered"]
                else ""
            ),
            Text(str(row["source"])),
        )
    Console().print(table)


#: Suffixes of the files each command writes.
MAP_SUFFIXES = (".html", ".htm")
EXPORT_SUFFIXES = (".gpkg", ".parquet", ".geoparquet", ".csv", ".xlsx")


@app.command("map")
@_guarded
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
    online: OnlineOpt = None,
    source: SourceOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write an interactive siting map of a territory (HTML, optionally PNG and PDF)."""
    _setup_logging(verbose)
    from layers.arguments import check_output_path

    # Everything that can be refused is refused before any work.
    width, height = _picture_size(picture_size)
    from foncier.engine.profiles import parse_weights

    new_weights = parse_weights(weights) if weights is not None else None
    if new_weights is not None and no_score:
        raise ArgumentError("--weights needs a scored map: drop --no-score.")
    check_output_path(output, "--output", suffixes=MAP_SUFFIXES)
    if png is not None:
        check_output_path(png, "--png", suffixes=(".png",))
    if pdf is not None:
        check_output_path(pdf, "--pdf", suffixes=(".pdf",))
    from maps.export import save_html, save_png

    if png is not None or pdf is not None:
        from maps.browser import chromium_path

        chromium_path()  # MissingDependencyError now rather than after the computation
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
    _say("Carte écrite :", f"{path} ({size:.1f} Mo)", style="green")
    for picture, as_pdf in ((png, False), (pdf, True)):
        if picture is not None:
            out = save_png(path, picture, width=width, height=height, pdf=as_pdf)
            _say("Image écrite :", str(out), style="green")


def _print_top(study: Any, n: int) -> None:
    best = study.top(n)
    title = Text(f"{study.territory.name} — {study.profile.name}")
    table = Table(title=title, title_justify="left")
    for col in ("rang", "site", "commune", "score", "top-N", "pourquoi"):
        table.add_column(col, overflow="fold")
    for _, row in best.iterrows():
        p_top = row.get("p_top_n")
        table.add_row(
            str(row["rank"]) + (" (ex aequo)" if bool(row.get("ex_aequo", False)) else ""),
            Text(str(row.get("site_id", ""))),
            Text(str(row.get("commune", ""))),
            f"{row['score']:.1f}",
            "" if p_top is None else f"{p_top:.0%}",
            Text(str(row.get("why", ""))),
        )
    console.print(table)
    skipped = study.scored.attrs.get("foncier", {}).get("skipped", [])
    if skipped:
        _say("Non évalués :", " ; ".join(str(s) for s in skipped), style="yellow")
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
@_guarded
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
    online: OnlineOpt = None,
    source: SourceOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Score candidate sites for a project profile and write them with their breakdown."""
    _setup_logging(verbose)
    from layers.arguments import check_output_path
    from layers.postgis import is_postgis_url, mask_url

    if not is_postgis_url(output):  # a database table is checked when it is written
        check_output_path(output, "--output", suffixes=EXPORT_SUFFIXES)
    from foncier.reports.exports import export_study

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
    _say("Sites écrits :", f"{mask_url(str(path))} ({len(study.scored)} sites)", style="green")


@app.command()
@_guarded
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
    online: OnlineOpt = None,
    source: SourceOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write a one-page sheet ("fiche site") for each of the best sites, plus an index.

    Refuses (exit code 1) when the ranking does not single out its top sites, unless --force.
    """
    _setup_logging(verbose)
    from layers.arguments import check_output_path

    check_output_path(output, "--output", folder=True)
    if pdf:
        from maps.browser import chromium_path

        chromium_path()
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
    except RankingError as exc:
        _say("Fiches non écrites.", str(exc))
        raise typer.Exit(code=EXIT_INPUT) from None
    _say("Fiches écrites :", f"{len(paths)} fichiers dans {output}", style="green")


@app.command("rank-measures")
@_guarded
def rank_measures(
    measures: Annotated[
        Path,
        typer.Argument(
            help="Folder of raw measures written by measure_to_parquet (part.N.parquet).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Argument(
            help="Output folder: part.N.parquet (scores, national rank), _top.parquet and "
            "_summary.json.",
            show_default=False,
        ),
    ],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="Profile id or TOML file the sites were measured for.",
            show_default=False,
        ),
    ],
    top: Annotated[int, typer.Option("--top", help="Number of best sites listed.")] = 10,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="synchronous, threads, processes, or a dask.distributed address "
            "(tcp://host:8786). Default: DASK_SCHEDULER_ADDRESS if set, else threads.",
            show_default=False,
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output folder.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Score and rank nationally every site of a measured dataset, partition by partition.

    The same columns, ranks and diagnostics as `foncier score` gives on all the sites in
    memory, without holding them: for all of France's parcels measured by
    measure_to_parquet, on this machine or a dask.distributed cluster.
    """
    _setup_logging(verbose)
    _check_count(top, "--top", 1)
    from foncier.engine.national import score_measures_parquet
    from layers.formatting import format_number

    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("partitions × 3 étapes"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("préparation", total=None)
        ranking = score_measures_parquet(
            measures,
            output,
            profile,
            top_n=top,
            scheduler=scheduler,
            overwrite=overwrite,
            progress=lambda step, done, total: bar.update(
                task, description=step, completed=done, total=total
            ),
        )
    table = Table(title=Text(f"Classement national — {ranking.metadata['profile_name']}"))
    for col in ("rang", "site", "score", "pourquoi"):
        table.add_column(col, overflow="fold")
    for index, row in ranking.top.iterrows():
        table.add_row(
            str(row["rank"]) + (" (ex aequo)" if bool(row["ex_aequo"]) else ""),
            Text(str(row.get("site_id", index))),
            f"{row['score']:.1f}",
            Text(str(row["why"])),
        )
    console.print(table)
    if ranking.metadata["skipped"]:
        _say("Non évalués :", " ; ".join(ranking.metadata["skipped"]), style="yellow")
    style = "green" if ranking.diagnostics.discriminates else "bold yellow"
    console.print(Text(ranking.message, style=style))
    _say(
        "Classement écrit :",
        f"{ranking.path} ({format_number(ranking.n_partitions)} partitions, "
        f"{format_number(ranking.n_sites)} sites : {format_number(ranking.n_ranked)} classés, "
        f"{format_number(ranking.n_excluded)} exclus)",
        style="green",
    )


@app.command()
@_guarded
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

    unknown = [n for n in layer or [] if n not in LAYERS]
    if unknown:
        raise ArgumentError(
            f"--layer: unknown layer(s) {unknown}; known layers: {', '.join(sorted(LAYERS))}."
        )
    t = _territory(territory)
    names = layer or [n for n, i in LAYERS.items() if not i.offline and i.needs != "file"]
    # the online part of each layer (OpenStreetMap for ports, platforms and ZAE)
    loaders = [
        (n, lambda tt, n=n: load_layer(tt, n, source=LAYERS[n].online_source)) for n in names
    ]
    columns = [TextColumn("{task.description}", markup=False), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("téléchargement", total=len(names))
        results = prefetch(
            t,
            layers=loaders,
            progress=lambda name, done, total: bar.update(
                task, completed=done, description=f"téléchargé : {name}"
            ),
        )
    failures = [r for r in results.values() if isinstance(r, Exception)]
    for name, result in results.items():
        if isinstance(result, Exception):
            _say(f"{name}:", str(result), style="red")
        else:
            console.print(Text(f"  {name}: {result} entités"))
    if failures:
        codes = [exit_code(r) for r in failures]
        raise typer.Exit(code=EXIT_SOURCE if EXIT_SOURCE in codes else max(codes))


def main() -> None:
    """Entry point of the ``foncier`` console script.

    SIGTERM is turned into an exception like Ctrl-C, so that temporary files are removed;
    an interruption outside a command (while the libraries load) ends quietly with 130.
    """
    try:
        install_sigterm_handler()
        app()
    except KeyboardInterrupt:
        sys.stderr.write("Interrompu.\n")
        sys.exit(EXIT_INTERRUPTED)
    except Terminated:
        sys.stderr.write("Arrêté (SIGTERM).\n")
        sys.exit(EXIT_TERMINATED)
