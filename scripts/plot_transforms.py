"""Draw every transform curve of foncier.engine.transforms into docs/transforms.svg.

Plain SVG written by hand (no plotting library needed): one small panel per kind, with the
profile syntax as title, the raw value on x and the 0..1 score on y. The curves are computed
with foncier.engine.transforms itself, so the picture always shows what the code does.

Usage: uv run python scripts/plot_transforms.py [output.svg]
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

import numpy as np

from foncier.engine.transforms import apply_transform, validate_transform

PANEL_W, PANEL_H = 330, 210
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 46, 26, 40, 34
COLUMNS = 3

PANELS = [
    (
        "linear, decreasing",
        {"kind": "linear", "from": 500, "to": 10000, "direction": "decreasing"},
        (0, 12000),
        "distance (m)",
    ),
    (
        "linear, increasing",
        {"kind": "linear", "from": 20000, "to": 150000, "direction": "increasing"},
        (0, 200000),
        "population (hab.)",
    ),
    (
        "sigmoid, decreasing",
        {"kind": "sigmoid", "midpoint": 5000, "scale": 1500, "direction": "decreasing"},
        (0, 12000),
        "distance (m)",
    ),
    (
        "gaussian",
        {"kind": "gaussian", "center": 50000, "width": 15000},
        (0, 100000),
        "surface (m²)",
    ),
    (
        "step",
        {"kind": "step", "thresholds": [2000, 5000, 10000], "scores": [1, 0.6, 0.3, 0]},
        (0, 12000),
        "distance (m)",
    ),
    (
        "piecewise",
        {"kind": "piecewise", "points": [[0, 1], [2000, 0.8], [5000, 0.3], [10000, 0]]},
        (0, 12000),
        "distance (m)",
    ),
]

CATEGORICAL = {"kind": "categorical", "map": {"port": 1.0, "platform": 0.8}, "default": 0.2}


def _spec_text(spec: dict) -> str:
    parts = []
    for key, value in spec.items():
        if key == "kind":
            continue
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _frame(ox: float, oy: float, title: str, subtitle: str) -> list[str]:
    x0, y0 = ox + MARGIN_L, oy + MARGIN_T
    w, h = PANEL_W - MARGIN_L - MARGIN_R, PANEL_H - MARGIN_T - MARGIN_B
    out = [
        f'<text x="{ox + 8}" y="{oy + 16}" class="t">{escape(title)}</text>',
        f'<text x="{ox + 8}" y="{oy + 30}" class="s">{escape(subtitle)}</text>',
        f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" class="box"/>',
    ]
    for v in (0, 0.5, 1):
        y = y0 + h * (1 - v)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" class="yl">{v:g}</text>')
    return out


def _curve_panel(ox: float, oy: float, title: str, spec: dict, xr: tuple, xlabel: str) -> list[str]:
    valid = validate_transform(spec)
    x0, y0 = ox + MARGIN_L, oy + MARGIN_T
    w, h = PANEL_W - MARGIN_L - MARGIN_R, PANEL_H - MARGIN_T - MARGIN_B
    out = _frame(ox, oy, title, _spec_text(spec))
    xs = np.linspace(xr[0], xr[1], 161)
    ys = apply_transform(xs, valid)
    px = x0 + (xs - xr[0]) / (xr[1] - xr[0]) * w
    py = y0 + (1 - ys) * h
    if valid["kind"] == "step":
        # Draw the jumps as vertical segments instead of steep slopes.
        pts = []
        for i in range(len(xs)):
            if i and ys[i] != ys[i - 1]:
                pts.append(f"{px[i]:.1f},{py[i - 1]:.1f}")
            pts.append(f"{px[i]:.1f},{py[i]:.1f}")
        points = " ".join(pts)
    else:
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
    out.append(f'<polyline points="{points}" class="curve"/>')
    for t in np.linspace(xr[0], xr[1], 5):
        x = x0 + (t - xr[0]) / (xr[1] - xr[0]) * w
        out.append(f'<text x="{x:.1f}" y="{y0 + h + 14}" class="xl">{t:,.0f}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 28}" class="xl">{escape(xlabel)}</text>')
    return out


def _categorical_panel(ox: float, oy: float) -> list[str]:
    valid = validate_transform(CATEGORICAL)
    cats = ["port", "platform", "gare", "autre"]
    scores = apply_transform(np.array(cats, dtype=object), valid)
    x0, y0 = ox + MARGIN_L, oy + MARGIN_T
    w, h = PANEL_W - MARGIN_L - MARGIN_R, PANEL_H - MARGIN_T - MARGIN_B
    out = _frame(ox, oy, "categorical", "map={port=1, platform=0.8}, default=0.2")
    bw = w / len(cats)
    for i, (cat, s) in enumerate(zip(cats, scores, strict=True)):
        bx = x0 + i * bw + bw * 0.2
        out.append(
            f'<rect x="{bx:.1f}" y="{y0 + (1 - s) * h:.1f}" width="{bw * 0.6:.1f}" '
            f'height="{s * h:.1f}" class="bar"/>'
        )
        out.append(f'<text x="{bx + bw * 0.3:.1f}" y="{y0 + h + 14}" class="xl">{cat}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 28}" class="xl">kind (named_sites)</text>')
    return out


def render() -> str:
    n = len(PANELS) + 1
    rows = -(-n // COLUMNS)
    width, height = COLUMNS * PANEL_W, rows * PANEL_H + 30
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        "<style>.t{font-size:13px;font-weight:bold}.s{font-size:9.5px;fill:#555}"
        ".box{fill:none;stroke:#888}.grid{stroke:#ddd}.curve{fill:none;stroke:#c0392b;"
        "stroke-width:2}.bar{fill:#c0392b}.yl{font-size:10px;text-anchor:end}"
        ".xl{font-size:10px;text-anchor:middle}</style>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="8" y="{height - 10}" class="s">foncier.engine.transforms: raw value (x) → '
        "score 0..1 "
        "(y); generated by scripts/plot_transforms.py</text>",
    ]
    for i, (title, spec, xr, xlabel) in enumerate(PANELS):
        ox, oy = (i % COLUMNS) * PANEL_W, (i // COLUMNS) * PANEL_H
        body += _curve_panel(ox, oy, title, spec, xr, xlabel)
    i = len(PANELS)
    body += _categorical_panel((i % COLUMNS) * PANEL_W, (i // COLUMNS) * PANEL_H)
    body.append("</svg>")
    return "\n".join(body) + "\n"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "docs"
    if out.suffix != ".svg":
        out = out / "transforms.svg"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
