"""Draw the README picture: a siting map of the Grand Compiégnois made by foncier itself.

The map is the one a user gets from ``foncier map grand-compiegnois`` (default profile
``logistique-multimodale``, 1 km hexagons, embedded data only), saved as a self-contained
HTML page (no script or style fetched from the web) and photographed by headless Chromium.
The default basemap is the plain background so the picture is the same with or without
network; ``--basemap osm`` draws OpenStreetMap tiles when the machine is online.

Usage::

    uv run python scripts/make_readme_picture.py  # writes docs/carte-grand-compiegnois.png
    uv run python scripts/make_readme_picture.py --basemap osm --output /tmp/carte.png

Needs Debian's ``chromium`` (``apt-get install chromium``). When Pillow is installed the PNG
is re-encoded as an optimised palette image to stay under :data:`MAX_BYTES`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
from pathlib import Path

import foncier
from maps.export import save_html, save_png

log = logging.getLogger("make_readme_picture")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "docs" / "carte-grand-compiegnois.png"
#: Size of the picture, pixels: wide enough to read the labels on GitHub, small in bytes.
WIDTH, HEIGHT = 1400, 900
#: Largest PNG kept in git without complaint (bytes).
MAX_BYTES = 400_000


def optimise_png(path: Path) -> bool:
    """Re-encode ``path`` as a 256-colour optimised PNG when Pillow is available.

    A map has flat colours, so a palette loses nothing visible and divides the size by 3-4.

    Parameters
    ----------
    path : pathlib.Path
        PNG file, rewritten in place.

    Returns
    -------
    bool
        True when the file was re-encoded, False when Pillow is not installed.
    """
    try:
        from PIL import Image
    except ImportError:
        log.info("Pillow not installed: PNG kept as Chromium wrote it")
        return False
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, format="PNG", optimize=True)
    return True


def make_picture(
    *,
    output: Path = DEFAULT_OUTPUT,
    basemap: str = "plain",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Path:
    """Run the Grand Compiégnois study and write its map as a PNG.

    Parameters
    ----------
    output : pathlib.Path
        PNG file to write.
    basemap : str
        Basemap shown (``"plain"``: no network needed; ``"osm"``, ``"ign_plan"`` online).
    width, height : int
        Size of the picture, pixels.

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    study = foncier.siting_study("grand-compiegnois", sites="hex:1000", draws=200, top_n=10)
    best = study.top(1)
    log.info(
        "best site %s (%s), score %.1f",
        best.index[0],
        best["commune"].iloc[0],
        float(best["score"].iloc[0]),
    )
    m = study.map(
        basemaps=(basemap,),
        title="Grand Compiégnois – logistique multimodale (rail, fleuve, autoroute)",
        date=dt.date.today(),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="foncier-readme-") as tmp:
        # Self-contained page: Leaflet, Folium and styles inlined, so Chromium needs no network.
        page = save_html(m, Path(tmp) / "carte.html", self_contained=True)
        save_png(page, output, width=width, height=height)
    optimise_png(output)
    size = output.stat().st_size
    if size > MAX_BYTES:
        log.warning(
            "%s weighs %.0f kB, more than %.0f kB: install Pillow or lower --width/--height",
            output,
            size / 1000,
            MAX_BYTES / 1000,
        )
    log.info("wrote %s (%d × %d px, %.0f kB)", output, width, height, size / 1000)
    return output


def main(argv: list[str] | None = None) -> None:
    """Command line entry: parse the options and draw the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG file to write")
    parser.add_argument(
        "--basemap",
        default="plain",
        help="basemap: plain (default, offline), osm, ign_plan, ign_ortho (need the network)",
    )
    parser.add_argument("--width", type=int, default=WIDTH, help="picture width, pixels")
    parser.add_argument("--height", type=int, default=HEIGHT, help="picture height, pixels")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    make_picture(output=args.output, basemap=args.basemap, width=args.width, height=args.height)


if __name__ == "__main__":
    main()
