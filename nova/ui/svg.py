"""The memory browser's two pictures, drawn on the server as inline SVG (no script, no chart library to
vendor): an entity's neighbours, and recall latency per hour. Both return markup for a Jinja
template's ``|safe``; every text in them is escaped here."""

from __future__ import annotations

import math
from html import escape

__all__ = ["neighbour_graph", "latency_chart"]


def neighbour_graph(center: dict, neighbours: list[dict], href) -> str:
    """``center`` (``{"name", "kind"}``) with ``neighbours`` (``{"id", "name", "kind", "links",
    "predicate"}``) on a circle around it, each a link (``href(id)``), its edge labelled with the
    most frequent predicate and the number of relationships."""
    w, h, r = 640, 400, 150
    cx, cy = w / 2, h / 2
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img"'
             f' aria-label="{escape(center["name"])} and the entities it is related to" class="graph">']
    spots = []
    for k, n in enumerate(neighbours):
        angle = 2 * math.pi * k / max(len(neighbours), 1) - math.pi / 2
        spots.append((cx + r * math.cos(angle), cy + r * 0.85 * math.sin(angle), n))
    for x, y, n in spots:
        width = 1 + min(n["links"], 6)
        parts.append(f'<line x1="{cx:.0f}" y1="{cy:.0f}" x2="{x:.0f}" y2="{y:.0f}" stroke="#9aa5b1"'
                     f' stroke-width="{width}"/>')
        mx, my = (cx + x) / 2, (cy + y) / 2
        parts.append(f'<text x="{mx:.0f}" y="{my:.0f}" class="edge">{escape(n["predicate"])} ×{n["links"]}</text>')
    parts.append(f'<circle cx="{cx:.0f}" cy="{cy:.0f}" r="34" class="node center"/>'
                 f'<text x="{cx:.0f}" y="{cy + 4:.0f}" class="label">{escape(_short(center["name"]))}</text>')
    for x, y, n in spots:
        parts.append(f'<a href="{escape(href(n["id"]))}"><circle cx="{x:.0f}" cy="{y:.0f}" r="26" class="node"/>'
                     f'<text x="{x:.0f}" y="{y + 4:.0f}" class="label">{escape(_short(n["name"]))}</text>'
                     f'<title>{escape(n["name"])} ({escape(n["kind"])})</title></a>')
    if not neighbours:
        parts.append(f'<text x="{cx:.0f}" y="{cy + 60:.0f}" class="label">no relationship to another entity</text>')
    parts.append("</svg>")
    return "".join(parts)


def latency_chart(hours: list[dict]) -> str:
    """Bars of p95 recall latency per hour (``{"hour", "n", "p50", "p95"}``), p50 as a tick on each bar."""
    if not hours:
        return '<p class="muted">No sampled recall in the last 24 hours (nova serve and this page record a share of their recalls: telemetry_sample_rate, default one in ten).</p>'
    w, h, pad = 640, 220, 56
    top = max(max(x["p95"] for x in hours), 1.0)
    bar = (w - pad * 2) / len(hours)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img"'
             ' aria-label="recall latency per hour, p95 bars with p50 ticks" class="chart">',
             f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#666"/>',
             f'<text x="{pad - 4}" y="{pad}" class="axis" text-anchor="end">{top:.0f} ms</text>',
             f'<text x="{pad - 4}" y="{h - pad}" class="axis" text-anchor="end">0</text>']
    scale = (h - pad * 2) / top
    for k, x in enumerate(hours):
        left, height = pad + k * bar, x["p95"] * scale
        parts.append(f'<rect x="{left + 2:.1f}" y="{h - pad - height:.1f}" width="{max(bar - 4, 1):.1f}"'
                     f' height="{height:.1f}" class="p95"><title>{x["hour"]:%H:00}: p95 {x["p95"]:.0f} ms,'
                     f' p50 {x["p50"]:.0f} ms, {x["n"]} sampled</title></rect>')
        y50 = h - pad - x["p50"] * scale
        parts.append(f'<line x1="{left + 2:.1f}" y1="{y50:.1f}" x2="{left + bar - 2:.1f}" y2="{y50:.1f}" class="p50"/>')
        if k % max(1, len(hours) // 8) == 0:
            parts.append(f'<text x="{left + bar / 2:.1f}" y="{h - pad + 14}" class="axis" text-anchor="middle">'
                         f'{x["hour"]:%H:00}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(name: str, n: int = 14) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"
