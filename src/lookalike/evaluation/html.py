"""The evaluation report as one self-contained HTML file.

Everything the page needs is inside it: CSS in a ``<style>`` element, figures as base64 PNG
``data:`` URIs, and one short inline script (it counts the images that decoded and records
the count in ``document.body.dataset.imagesLoaded``, which browser tests read). Nothing is
fetched from the network, so the file can be mailed, archived or opened offline. All text
taken from the data (column names, categories, notes) is HTML-escaped.

The page leads with what a reader needs first: the summary, then what gives the synthetic
rows away (the detector and its tells, each with its figure), coverage, privacy and
utility beside their holdout references; the other figures follow, and the long metric
tables come last, collapsed.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lookalike._io import atomic_open

CATEGORIES = ("fidelity", "utility", "privacy")

_CATEGORY_INTROS = {
    "fidelity": "How closely the synthetic rows follow the real distribution.",
    "utility": "How well models trained on synthetic rows do on real rows.",
    "privacy": "Whether synthetic rows give away the training rows.",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5rem; color: #222; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.3rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem;
     margin-top: 2rem; }
h3 { font-size: 1.0rem; margin: 0.2rem 0; }
.meta { color: #555; font-size: 0.9rem; }
.summary li { margin: 0.25rem 0; }
.alert { background: #fdecea; border-left: 4px solid #c62828; padding: 0.6rem 0.9rem; }
.tells { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr));
         gap: 0.8rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f4f4f4; }
td.value { text-align: right; font-variant-numeric: tabular-nums; }
details { margin: 0.4rem 0 1rem; }
summary { cursor: pointer; color: #1f4f8f; }
figure { margin: 0.6rem 0 1.2rem; }
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

_KEY_METRICS = {
    "coverage": ("precision", "recall", "authenticity"),
    "privacy": (
        "exact_copy_rate",
        "dcr_synthetic",
        "dcr_ratio",
        "memorised_share",
        "membership_auc",
        "attribute_inference_risk",
    ),
    "utility": (
        "tstr_accuracy",
        "tstr_macro_f1",
        "tstr_r2",
    ),
}


def render_html(report: Any, path: str | os.PathLike[str], *, figures: bool = True) -> Path:
    """Write ``report`` as one self-contained HTML page and return its path.

    Parameters
    ----------
    report : EvaluationReport
        Its ``summary``, ``metrics``, ``memorised``, ``tells``, ``detector``, ``sampling``,
        ``real``, ``synthetic``, ``holdout``, ``target`` and ``kinds`` are shown (missing
        attributes are skipped).
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
    The page holds, in order: the summary sentences; what gives the synthetic rows away
    (the detector, the method of the tells, one figure per tell); coverage, privacy and
    utility key numbers beside their holdout references; the other figures; the rows each
    step used; and one collapsed table per metric category (fidelity, utility, privacy,
    then any other category found), each under an ``<h2 id="metrics-CATEGORY">``. Every
    figure is an ``<img>`` whose ``src`` is ``data:image/png;base64,...``; no external
    resource is referenced.

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
    tell_figures = [f for f in rendered if f.key.startswith("tell-")]
    dcr_figures = [f for f in rendered if f.key == "dcr"]
    other_figures = [f for f in rendered if f not in tell_figures and f not in dcr_figures]
    metrics = getattr(report, "metrics", None)
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
        _tells_section(report, tell_figures),
        _key_section(
            metrics,
            "coverage",
            "Coverage and authenticity",
            "Nearest-neighbour balls around real and synthetic rows (Kynkäänniemi et al. 2019; "
            "Alaa et al. 2022), beside the same shares for real holdout rows.",
        ),
        _key_section(
            metrics,
            "privacy",
            "Privacy",
            "Each number beside the same quantity for real holdout rows, which the "
            "generator never saw.",
        ),
        _figures(dcr_figures),
        _key_section(
            metrics,
            "utility",
            "Utility",
            "A model trained on synthetic rows, tested on real holdout rows, beside the same "
            "model trained on real rows.",
        ),
    ]
    if other_figures:
        parts.append('<h2 id="figures">Figures</h2>')
        parts.append(_figures(other_figures))
    parts.append(_sampling_section(getattr(report, "sampling", None)))
    parts.append(_metrics_section(metrics))
    parts += [
        '<p class="meta">Made by lookalike; this file is self-contained and works offline.</p>',
        "</body>",
        "</html>",
    ]
    with atomic_open(path) as stream:
        stream.write("\n".join(part for part in parts if part) + "\n")
    return Path(path)


def _escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _figures(figures: Iterable[Any]) -> str:
    out = []
    for figure in figures:
        data = base64.b64encode(figure.png).decode("ascii")
        out.append(
            f'<figure id="figure-{_escape(figure.key)}"><h3>{_escape(figure.title)}</h3>'
            f'<img src="data:image/png;base64,{data}" alt="{_escape(figure.title)}">'
            f"<figcaption>{_escape(figure.caption)}</figcaption></figure>"
        )
    return "".join(out)


def _describe_data(report: Any) -> str:
    n_rows = getattr(report, "n_rows", None) or {}

    def shape(frame: Any, key: str) -> str:
        total = n_rows.get(key)
        text = f"{frame.shape[0]} rows x {frame.shape[1]} columns"
        if total is not None and total > frame.shape[0]:
            text += f" (a sample of {total:,} rows)"
        return text

    pieces = [f"real: {shape(report.real, 'real')}",
              f"synthetic: {shape(report.synthetic, 'synthetic')}"]  # fmt: skip
    holdout = getattr(report, "holdout", None)
    pieces.append("holdout: none" if holdout is None else f"holdout: {shape(holdout, 'holdout')}")
    target = getattr(report, "target", None)
    if target is not None:
        pieces.append(f"target: {target}")
    left_out = getattr(report, "left_out", None) or {}
    if left_out:
        pieces.append("left out: " + ", ".join(f"{c} ({why})" for c, why in left_out.items()))
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
    return f'<h2 id="summary">Summary</h2>{alert}<ul class="summary">{items}</ul>'


def _tells_section(report: Any, figures: Sequence[Any]) -> str:
    detector = getattr(report, "detector", None)
    if detector is None and not figures:
        return ""
    parts = ['<h2 id="tells">What gives it away</h2>']
    if detector is not None and _finite(detector.auc):
        text = (
            f"A gradient-boosted classifier tells synthetic from real rows with ROC AUC "
            f"{detector.auc:.3f} (spread over {detector.n_folds} folds: "
            f"{min(detector.fold_aucs):.3f} to {max(detector.fold_aucs):.3f}; "
            f"{detector.n_rows_used // 2:,} rows of each; 0.5 = indistinguishable)."
        )
        reference = getattr(report, "detector_reference", None)
        if reference is not None and _finite(reference.auc):
            text += (
                f" Real holdout rows against training rows score {reference.auc:.3f}: what a "
                "perfect generator would reach here."
            )
        parts.append(f"<p>{_escape(text)}</p>")
    method = getattr(report, "tells_method", "")
    if method:
        parts.append(f'<p class="meta">{_escape(method)}</p>')
    tells = list(getattr(report, "tells", None) or [])
    if tells:
        items = "".join(
            f"<li>{_escape(t.sentence[:1].upper() + t.sentence[1:])} "
            f'<span class="meta">(AUC {t.auc:.3f}, score {t.score:.3f})</span></li>'
            for t in tells
        )
        parts.append(f'<ol class="tells-list">{items}</ol>')
    else:
        parts.append("<p>No single column or pair of columns gives the synthetic rows away.</p>")
    if figures:
        parts.append(f'<div class="tells">{_figures(figures)}</div>')
    return "".join(parts)


def _key_section(metrics: Any, key: str, title: str, intro: str) -> str:
    if metrics is None or len(metrics) == 0 or "reference" not in metrics:
        return ""
    wanted = _KEY_METRICS[key]
    rows = metrics[metrics["metric"].isin(wanted) & metrics["column"].isna()]
    if rows.empty:
        return ""
    rows = rows.assign(order=rows["metric"].map(wanted.index)).sort_values("order")
    body = "".join(
        "<tr>"
        f"<td>{_escape(row['metric'])}</td>"
        f'<td class="value">{_escape(_number(row["value"]))}</td>'
        f'<td class="value">{_escape(_number(row["reference"]))}</td>'
        f"<td>{_escape(_text(row['note']))}</td>"
        "</tr>"
        for _, row in rows.iterrows()
    )
    return (
        f'<h2 id="{_escape(key)}">{_escape(title)}</h2><p>{_escape(intro)}</p>'
        '<table class="key"><thead><tr><th>metric</th><th>synthetic</th>'
        f"<th>holdout reference</th><th>meaning</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _sampling_section(sampling: Any) -> str:
    if sampling is None or len(sampling) == 0:
        return ""
    body = "".join(
        "<tr>"
        f"<td>{_escape(row['step'])}</td>"
        + "".join(
            f'<td class="value">{_escape(_count(row[c]))}</td>'
            for c in ("real_rows", "synthetic_rows", "holdout_rows")
        )
        + f"<td>{_escape(_text(row['note']))}</td></tr>"
        for _, row in sampling.iterrows()
    )
    return (
        '<h2 id="sampling">Rows used</h2><p>Every step works on a seeded sample of at most '
        "the rows below; the same seed gives the same numbers.</p><details><summary>Rows "
        f"used by each of {len(sampling)} steps</summary>"
        '<table class="sampling"><thead><tr><th>step</th><th>real</th><th>synthetic</th>'
        f"<th>holdout</th><th>note</th></tr></thead><tbody>{body}</tbody></table></details>"
    )


def _metrics_section(metrics: Any) -> str:
    if metrics is None or len(metrics) == 0:
        return '<h2 id="metrics">Metrics</h2><p>No metrics were computed.</p>'
    found = [str(c) for c in dict.fromkeys(metrics["category"])]
    order = [c for c in CATEGORIES if c in found] + [c for c in found if c not in CATEGORIES]
    has_reference = "reference" in metrics
    sections = []
    for category in order:
        rows = metrics[metrics["category"] == category]
        body = "".join(
            "<tr>"
            f"<td>{_escape(row['metric'])}</td>"
            f"<td>{_escape(_text(row['column']))}</td>"
            f'<td class="value">{_escape(_number(row["value"]))}</td>'
            + (
                f'<td class="value">{_escape(_number(row["reference"]))}</td>'
                if has_reference
                else ""
            )
            + f"<td>{_escape(_text(row.get('note')))}</td>"
            "</tr>"
            for _, row in rows.iterrows()
        )
        reference_header = "<th>holdout reference</th>" if has_reference else ""
        intro = _CATEGORY_INTROS.get(category, "")
        sections.append(
            f'<h2 id="metrics-{_escape(category)}">{_escape(category.capitalize())} metrics</h2>'
            f"<p>{_escape(intro)}</p><details><summary>All {len(rows)} {_escape(category)} "
            "metric values</summary>"
            f'<table class="metrics"><thead><tr><th>metric</th><th>column</th>'
            f"<th>value</th>{reference_header}<th>note</th></tr></thead><tbody>{body}</tbody>"
            "</table></details>"
        )
    return "".join(sections)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _count(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{int(value):,}"


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "n/a"
    return f"{number:.4g}"
