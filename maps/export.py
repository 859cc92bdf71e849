"""Files of a map: HTML (optionally self-contained), PNG and PDF pictures.

A self-contained HTML file inlines every JavaScript and CSS file folium links to, from
copies shipped in ``maps/static/`` (Leaflet and its plugins, with their licences in
``maps/static/LICENSES``): it opens with no network, except for the basemap tiles.

Pictures are taken by Debian's headless Chromium (``apt-get install chromium``) from a
self-contained copy of the map, so they render without a CDN; the basemap tiles are
awaited for a bounded time, and when none can be loaded (offline) the vector layers are
drawn on a plain background.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layers.errors import FoncierError, MissingDependencyError
from layers.files import write_bytes_atomic
from maps.browser import CHROMIUM_FLAGS, chromium_path

if TYPE_CHECKING:
    import folium

__all__ = ["STATIC_DIR", "inline_assets", "render_html", "save_html", "save_png"]

log = logging.getLogger(__name__)

#: Folder of the vendored JavaScript / CSS files.
STATIC_DIR = Path(__file__).parent / "static"

# Linked file name -> vendored copy. Matched on the file name, so that a folium release
# that bumps a CDN path still finds the local copy.
_ASSETS: dict[str, str] = {
    "leaflet.js": "leaflet/leaflet.js",
    "leaflet.css": "leaflet/leaflet.css",
    "leaflet.markercluster.js": "leaflet.markercluster/leaflet.markercluster.js",
    "leaflet.markercluster-src.js": "leaflet.markercluster/leaflet.markercluster.js",
    "MarkerCluster.css": "leaflet.markercluster/MarkerCluster.css",
    "MarkerCluster.Default.css": "leaflet.markercluster/MarkerCluster.Default.css",
    "Control.FullScreen.js": "leaflet.fullscreen/Control.FullScreen.js",
    "Control.FullScreen.min.js": "leaflet.fullscreen/Control.FullScreen.js",
    "Control.FullScreen.css": "leaflet.fullscreen/Control.FullScreen.css",
    "leaflet-measure.js": "leaflet-measure/leaflet-measure.min.js",
    "leaflet-measure.min.js": "leaflet-measure/leaflet-measure.min.js",
    "leaflet-measure.css": "leaflet-measure/leaflet-measure.css",
    "leaflet-measure.min.css": "leaflet-measure/leaflet-measure.css",
    "jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "jquery.min.js": "jquery/jquery.min.js",
    "bootstrap.bundle.min.js": "bootstrap/bootstrap.bundle.min.js",
    "bootstrap.min.css": "bootstrap/bootstrap.min.css",
}

_SCRIPT_RE = re.compile(
    r"<script\s+[^>]*?src=[\"'](?P<url>(?:https?:)?//[^\"']+)[\"'][^>]*>\s*</script>", re.I
)
_LINK_RE = re.compile(r"<link\s+[^>]*?href=[\"'](?P<url>(?:https?:)?//[^\"']+)[\"'][^>]*?/?>", re.I)
_CSS_URL_RE = re.compile(r"url\((?P<q>[\"']?)(?P<ref>[^\"')]+)(?P=q)\)")
_SOURCEMAP_RE = re.compile(r"(/\*#\s*sourceMappingURL=[^*]*\*/|//#\s*sourceMappingURL=\S*)")


def render_html(m: folium.Map) -> str:
    """Return the full HTML page of ``m``.

    The page is the one branca renders, except that the parts each element renders are
    put in the page as they are, not compiled as Jinja templates and rendered a second
    time (see :mod:`maps.page`). For that, each element of the map has its class
    replaced by a subclass during the rendering, and given back afterwards.

    Parameters
    ----------
    m : folium.Map
        Map to render (finish it first with :func:`maps.base.finish_map`).

    Returns
    -------
    str
        The HTML page.
    """
    from maps.page import render_page

    return render_page(m)


def _asset_for(url: str) -> Path | None:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    rel = _ASSETS.get(name)
    return STATIC_DIR / rel if rel else None


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(path: Path) -> str:
    text = _SOURCEMAP_RE.sub("", path.read_text(encoding="utf-8"))

    def repl(match: re.Match[str]) -> str:
        ref = match.group("ref")
        if ref.startswith(("data:", "#", "http:", "https:", "//")):
            return match.group(0)
        target = (path.parent / ref).resolve()
        if not target.is_file():
            return match.group(0)
        return f'url("{_data_uri(target)}")'

    return _CSS_URL_RE.sub(repl, text)


def inline_assets(page: str) -> str:
    """Return ``page`` with every linked JavaScript / CSS file inlined from ``maps/static``.

    Linked stylesheets without a local copy (icon fonts) are removed with a warning: the
    page then shows no such icons but makes no request. Scripts without a local copy are
    kept, with a warning naming them, because removing code would break the map.

    Parameters
    ----------
    page : str
        HTML page (e.g. from :func:`render_html`).

    Returns
    -------
    str
        The self-contained page.
    """

    def script(match: re.Match[str]) -> str:
        url = match.group("url")
        asset = _asset_for(url)
        if asset is None or not asset.is_file():
            log.warning("no local copy of %s: the saved map will still load it from the web", url)
            return match.group(0)
        code = _SOURCEMAP_RE.sub("", asset.read_text(encoding="utf-8"))
        # A literal "</script" inside the code would end the inline element early.
        code = code.replace("</script", "<\\/script")
        return f"<script>/* {asset.relative_to(STATIC_DIR).as_posix()} */\n{code}\n</script>"

    def link(match: re.Match[str]) -> str:
        tag, url = match.group(0), match.group("url")
        if "stylesheet" not in tag.lower():
            return tag
        asset = _asset_for(url)
        if asset is None or not asset.is_file():
            log.warning("no local copy of the stylesheet %s: left out of the saved map", url)
            return ""
        return (
            f"<style>/* {asset.relative_to(STATIC_DIR).as_posix()} */\n"
            f"{_inline_css(asset)}\n</style>"
        )

    return _LINK_RE.sub(link, _SCRIPT_RE.sub(script, page))


def save_html(m: folium.Map, path: str | os.PathLike[str], *, self_contained: bool = False) -> Path:
    """Save ``m`` as one HTML file, written atomically.

    Parameters
    ----------
    m : folium.Map
        Map to save (finish it first with :func:`maps.base.finish_map`).
    path : str or path-like
        Output file.
    self_contained : bool
        Inline every JavaScript and CSS file so that the page opens with no network
        (basemap tiles excepted). Adds about 300 kB.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    out = Path(path)
    page = render_html(m)
    if self_contained:
        page = inline_assets(page)
    write_bytes_atomic(out, page.encode("utf-8"))
    log.info("map saved to %s (%.0f kB)", out, out.stat().st_size / 1000)
    return out


# Added to the page before the picture is taken. The buttons and the layer control do
# nothing on paper, so they are hidden (the legend gets the room); the sources are shown whole
# (a picture cannot scroll). Failed tiles (no network)
# are hidden and the map gets a plain background, so the vector layers still read well.
_PICTURE_EXTRAS = """
<style>
.leaflet-control-layers, .leaflet-control-measure, .leaflet-top.leaflet-left .leaflet-bar
  {display: none !important;}
.foncier-legend {max-height: none !important;}
.foncier-title .foncier-sources {max-height: none !important; overflow: visible !important;}
</style>
<script>
(function () {
  function settle() {
    var tiles = document.querySelectorAll('img.leaflet-tile');
    var failed = 0;
    tiles.forEach(function (img) {
      if (img.complete && img.naturalWidth === 0) { img.style.visibility = 'hidden'; failed++; }
    });
    if (tiles.length === 0 || failed === tiles.length) {
      document.querySelectorAll('.leaflet-container').forEach(function (c) {
        c.style.background = '#f2efe9';
      });
    }
  }
  window.addEventListener('load', function () { settle(); setInterval(settle, 200); });
})();
</script>
"""


def save_png(
    m_or_html: folium.Map | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    width: int = 1600,
    height: int = 1000,
    wait_s: float = 8.0,
    pdf: bool = False,
) -> Path:
    """Save a picture of a map (PNG, or PDF with ``pdf=True``) with headless Chromium.

    The picture shows the map, title block, legend, scale bar and attributions; the
    interactive controls (layer switcher, zoom, fullscreen, measure) are left out.

    Parameters
    ----------
    m_or_html : folium.Map or path
        A map, or an HTML file saved by :func:`save_html`.
    path : str or path-like
        Output file.
    width, height : int
        Size of the picture, pixels (the page is laid out at this size).
    wait_s : float
        Longest wait for the basemap tiles and scripts, seconds.
    pdf : bool
        Write a one-page PDF of that size instead of a PNG.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    MissingDependencyError
        When Chromium is not installed (``apt-get install chromium``).
    FoncierError
        When Chromium fails or writes no picture.
    """
    if isinstance(m_or_html, str | os.PathLike):
        page = Path(m_or_html).read_text(encoding="utf-8")
    else:
        page = render_html(m_or_html)
    page = inline_assets(page)
    extra = _PICTURE_EXTRAS
    if pdf:
        extra += (
            f"<style>@page {{ size: {width}px {height}px; margin: 0 }} "
            f"html, body {{ width: {width}px; height: {height}px; margin: 0 }}</style>"
        )
    page = page.replace("</head>", extra + "</head>", 1) if "</head>" in page else extra + page
    out = Path(path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        binary = chromium_path()
    except MissingDependencyError as exc:
        raise MissingDependencyError(
            f"{exc} PNG/PDF pictures of maps are taken by headless Chromium: run "
            "`apt-get install chromium`."
        ) from exc
    with tempfile.TemporaryDirectory(prefix="foncier-png-") as tmp:
        html_file = Path(tmp) / "map.html"
        html_file.write_text(page, encoding="utf-8")
        target = Path(tmp) / ("map.pdf" if pdf else "map.png")
        cmd = [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--window-size={width},{height}",
            # Virtual time lets scripts and tile requests run, bounded by the budget.
            f"--virtual-time-budget={int(wait_s * 1000)}",
        ]
        if pdf:
            cmd += [f"--print-to-pdf={target}", "--no-pdf-header-footer"]
        else:
            cmd += [f"--screenshot={target}"]
        cmd.append(html_file.as_uri())
        log.debug("running %s", " ".join(cmd))
        try:
            proc: Any = subprocess.run(
                cmd, capture_output=True, text=True, timeout=wait_s + 90, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise FoncierError(
                f"Chromium took more than {wait_s + 90:.0f} s to draw the map; try a smaller "
                "map or a shorter wait_s"
            ) from exc
        if proc.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            raise FoncierError(
                f"Chromium could not draw the map (exit {proc.returncode}): "
                f"{proc.stderr.strip()[-800:]}"
            )
        write_bytes_atomic(out, target.read_bytes())
    log.info("picture saved to %s", out)
    return out
