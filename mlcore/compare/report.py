"""A comparison as one self-contained HTML file (styles and pictures inline: it opens offline, and can be
mailed or attached to a ticket).

    html = comparison_html(document, pictures)     # pictures: [(caption, JPEG bytes)] of disagreeing images
"""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from typing import Any

from mlcore.compare.verdict import LABELS, direction, signed

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#111;max-width:1100px}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}
th{background:#f3f4f6}td:first-child,th:first-child{text-align:left}.verdict{font-size:1.2rem;padding:.8rem;
border-radius:6px;background:#eef2ff}.better{color:#15803d}.worse{color:#b91c1c}figure{margin:0 0 1rem}
img{max-width:100%;border:1px solid #ddd}small{color:#555}
"""


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else escape(str(value))


def _delta_cell(row: dict[str, float]) -> str:
    kind = {"b_better": "better", "a_better": "worse"}.get(direction(row), "")
    text = f"{signed(row['delta'])} [{signed(row['ci_low'])}, {signed(row['ci_high'])}]"
    return f'<td class="{kind}">{escape(text)}</td>'


def _forest(metrics: dict[str, dict[str, float]]) -> str:
    """An SVG of each difference with its interval around zero."""
    width, row_h, left = 520, 26, 110
    span = max(0.01, *(max(abs(r["ci_low"]), abs(r["ci_high"]), abs(r["delta"])) for r in metrics.values()))

    def x(v: float) -> float:
        return left + (v / span + 1) / 2 * (width - left - 20)

    parts = [
        f'<svg width="{width}" height="{row_h * len(metrics) + 24}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{x(0)}" y1="0" x2="{x(0)}" y2="{row_h * len(metrics)}" stroke="#999" stroke-dasharray="4"/>',
    ]
    for i, (name, r) in enumerate(metrics.items()):
        y = i * row_h + row_h / 2
        colour = {"b_better": "#15803d", "a_better": "#b91c1c"}.get(direction(r), "#2563eb")
        parts += [
            f'<text x="4" y="{y + 4}" font-size="12">{escape(LABELS.get(name, name))}</text>',
            f'<line x1="{x(r["ci_low"])}" y1="{y}" x2="{x(r["ci_high"])}" y2="{y}" stroke="{colour}" '
            'stroke-width="3"/>',
            f'<circle cx="{x(r["delta"])}" cy="{y}" r="5" fill="{colour}"/>',
        ]
    parts.append(f'<text x="{x(0) - 40}" y="{row_h * len(metrics) + 16}" font-size="11">B − A (0 = no change)</text>')
    return "".join(parts) + "</svg>"


def comparison_html(doc: dict[str, Any], pictures: list[tuple[str, bytes]]) -> str:
    a, b = doc["a"], doc["b"]
    rows = "".join(
        f"<tr><td>{escape(LABELS.get(m, m))}</td><td>{r['a']:.3f}</td><td>{r['b']:.3f}</td>{_delta_cell(r)}</tr>"
        for m, r in doc["metrics"].items()
    )
    per_class = "".join(
        f"<tr><td>{escape(name)}</td>"
        + "".join(_delta_cell(r[m]) if m in r else "<td>–</td>" for m in ("ap50_95", "precision", "recall", "f1"))
        + "</tr>"
        for name, r in doc["per_class"].items()
    )
    errors = "".join(
        f"<tr><td>{escape(t)}</td><td>{r['a']}</td><td>{r['b']}</td><td>{r['delta']:+d}</td></tr>"
        for t, r in doc["error_types"].items()
    )
    sizes = "".join(
        f"<tr><td>{escape(s['size'])}</td><td>{s['instances']}</td>"
        + "".join(f"<td>{s[f'{k}_a']:.3f} → {s[f'{k}_b']:.3f}</td>" for k in ("precision", "recall", "f1"))
        + "</tr>"
        for s in doc["by_size"]
    )
    sides = "".join(
        f"<tr><td>{key.upper()}</td><td>{escape(side['label'])}</td><td><small>{escape(side['sha256'][:12])}</small>"
        f"</td><td>{_cell(side['thresholds']['confidence'])}</td><td>{_cell(side['thresholds']['nms_iou'])}</td>"
        f"<td>{_cell(side['ms_per_image'])}</td></tr>"
        for key, side in (("a", a), ("b", b))
    )
    gallery = "".join(
        f'<figure><img src="data:image/jpeg;base64,{base64.b64encode(data).decode()}" alt="{escape(caption)}">'
        f"<figcaption><small>{escape(caption)}</small></figcaption></figure>"
        for caption, data in pictures
    )
    created = datetime.fromtimestamp(doc.get("created", 0)).strftime("%Y-%m-%d %H:%M")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ML Studio comparison: {escape(a["label"])} vs {escape(b["label"])}</title><style>{STYLE}</style></head><body>
<h1>{escape(a["label"])} (A) vs {escape(b["label"])} (B)</h1>
<p><small>{doc["images"]} images of the {escape(doc["split"])} split of {escape(doc["dataset"])} · paired bootstrap,
{doc["resamples"]} resamples, seed {doc["seed"]}, {int(doc["level"] * 100)}% intervals · {created}</small></p>
<p class="verdict">{escape(doc["summary"])}</p>
<h2>Models</h2><table><tr><th></th><th>model</th><th>sha256</th><th>confidence</th><th>NMS IoU</th>
<th>ms / image</th></tr>{sides}</table>
<h2>Metrics</h2>{_forest(doc["metrics"])}
<table><tr><th>metric</th><th>A</th><th>B</th><th>B − A [95% interval]</th></tr>{rows}</table>
<h2>Per class</h2><table><tr><th>class</th><th>AP50-95</th><th>precision</th><th>recall</th><th>F1</th></tr>
{per_class}</table>
<h2>Error types</h2><table><tr><th>type</th><th>A</th><th>B</th><th>B − A</th></tr>{errors}</table>
<h2>By object size</h2><table><tr><th>size</th><th>objects</th><th>precision</th><th>recall</th><th>F1</th></tr>
{sizes}</table>
<h2>Where they disagree</h2><p><small>A on the left, B on the right; ground truth and errors drawn.</small></p>
{gallery or "<p>The two models make the same number of errors on every image.</p>"}
</body></html>"""
