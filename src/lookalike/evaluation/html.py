"""The evaluation report as one self-contained HTML file.

Everything the page needs is inside it: CSS in a ``<style>`` element, figures as base64 PNG
``data:`` URIs, and one short inline script (it counts the images that decoded and records
the count in ``document.body.dataset.imagesLoaded``, which browser tests read). Nothing is
fetched from the network, so the file can be mailed, archived or opened offline. All text
taken from the data (column names, categories, notes) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from typing import Any

from lookalike._io import atomic_open

CATEGORIES = ("fidelity", "utility", "privacy")

_CATEGORY_INTROS = {
    "fidelity": "How closely the synthetic rows follow the real distribution.",
    "utility": "How well models trained on synthetic rows do on real rows.",
    "privacy": "Whether synthetic rows sit suspiciously close to training rows.",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5rem; color: #222; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.3rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem;
     margin-top: 2rem; }
.meta { color: #555; font-size: 0.9rem; }
.summary li { margin: 0.25rem 0; }
.alert { background: #fdecea; border-left: 4px solid #c62828; padding: 0.6rem 0.9rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f4f4f4; }
td.value { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9rem; }
"""

# Counts decoded images once the page has loaded; a browser test reads the count.
_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (img) { return img.complete && img.naturalWidth > 0; });
  document.body.dataset.imagesLoaded = String(loaded.length);
  document.body.dataset.imagesTotal = String(images.length);
});
"""


def render_html(report: Any, path: str | os.PathLike[str], *, figures: bool = True) -> Path:
    """Write ``report`` as one self-contained HTML page and return its path.

    Parameters
    ----------
    report : EvaluationReport
        Its ``summary``, ``metrics``, ``memorised``, ``real``, ``synthetic``, ``holdout``,
        ``target`` and ``kinds`` are shown.
    path : str or path-like
        The file to write (its folder is created). It is written to a temporary file and
        renamed, so a failure never leaves half a report behind.
    figures : bool, default=True
        Draw the figures of :func:`lookalike.evaluation.figures.report_figures` (needs
        matplotlib); False gives a text-only page.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    The page holds, in order: the summary sentences, one table per metric category
    (fidelity, utility, privacy, then any other category found), and the figures, each an
    ``<img>`` whose ``src`` is ``data:image/png;base64,...``. No external resource is
    referenced.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, pandas as pd
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame(rng.normal(size=(30, 2)), columns=["a", "b"])
    >>> metrics = pd.DataFrame({"category": ["fidelity"], "metric": ["ks"], "column": ["a"],
    ...                         "value": [0.12], "note": ["two-sample KS"]})
    >>> report = SimpleNamespace(summary=["Close enough."], metrics=metrics, memorised=False,
    ...                          real=real, synthetic=real, holdout=None, target=None,
    ...                          kinds=None)
    >>> out = render_html(report, pathlib.Path(tempfile.mkdtemp()) / "r.html", figures=False)
    >>> "Close enough." in out.read_text()
    True
    """
    rendered = []
    if figures:
        from lookalike.evaluation.figures import report_figures

        rendered = report_figures(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>lookalike evaluation report</title>",
        f"<style>{_STYLE}</style>",
        f"<script>{_SCRIPT}</script>",
        "</head>",
        "<body>",
        "<h1>Synthetic data evaluation</h1>",
        f'<p class="meta">{_escape(_describe_data(report))}</p>',
        _summary_section(report),
        _metrics_section(getattr(report, "metrics", None)),
    ]
    if rendered:
        parts.append("<h2>Figures</h2>")
        for figure in rendered:
            data = base64.b64encode(figure.png).decode("ascii")
            parts.append(
                f'<figure id="figure-{_escape(figure.key)}"><h3>{_escape(figure.title)}</h3>'
                f'<img src="data:image/png;base64,{data}" alt="{_escape(figure.title)}">'
                f"<figcaption>{_escape(figure.caption)}</figcaption></figure>"
            )
    parts += [
        '<p class="meta">Made by lookalike; this file is self-contained and works offline.</p>',
        "</body>",
        "</html>",
    ]
    with atomic_open(path) as stream:
        stream.write("\n".join(parts) + "\n")
    return Path(path)


def _escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _describe_data(report: Any) -> str:
    def shape(frame: Any) -> str:
        return f"{frame.shape[0]} rows x {frame.shape[1]} columns"

    pieces = [f"real: {shape(report.real)}", f"synthetic: {shape(report.synthetic)}"]
    holdout = getattr(report, "holdout", None)
    pieces.append("holdout: none" if holdout is None else f"holdout: {shape(holdout)}")
    target = getattr(report, "target", None)
    if target is not None:
        pieces.append(f"target: {target}")
    return "; ".join(pieces)


def _summary_section(report: Any) -> str:
    sentences = [str(s) for s in (getattr(report, "summary", None) or [])]
    items = "".join(f"<li>{_escape(s)}</li>" for s in sentences) or "<li>No summary.</li>"
    alert = ""
    if getattr(report, "memorised", False):
        share = getattr(report, "memorised_share", None)
        amount = "" if share is None else f" ({float(share):.0%} of synthetic rows)"
        alert = (
            f'<p class="alert" id="memorised"><strong>Warning:</strong> the synthetic data '
            f"look memorised{_escape(amount)}.</p>"
        )
    return f'<h2>Summary</h2>{alert}<ul class="summary">{items}</ul>'


def _metrics_section(metrics: Any) -> str:
    if metrics is None or len(metrics) == 0:
        return "<h2>Metrics</h2><p>No metrics were computed.</p>"
    found = [str(c) for c in dict.fromkeys(metrics["category"])]
    order = [c for c in CATEGORIES if c in found] + [c for c in found if c not in CATEGORIES]
    sections = []
    for category in order:
        rows = metrics[metrics["category"] == category]
        body = "".join(
            "<tr>"
            f"<td>{_escape(row['metric'])}</td>"
            f"<td>{_escape(_column_text(row['column']))}</td>"
            f'<td class="value">{_escape(_number(row["value"]))}</td>'
            f"<td>{_escape(_column_text(row.get('note')))}</td>"
            "</tr>"
            for _, row in rows.iterrows()
        )
        intro = _CATEGORY_INTROS.get(category, "")
        sections.append(
            f'<h2 id="metrics-{_escape(category)}">{_escape(category.capitalize())}</h2>'
            f"<p>{_escape(intro)}</p>"
            f'<table class="metrics"><thead><tr><th>metric</th><th>column</th>'
            f"<th>value</th><th>note</th></tr></thead><tbody>{body}</tbody></table>"
        )
    return "".join(sections)


def _column_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "n/a"
    return f"{number:.4g}"
