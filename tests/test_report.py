"""The HTML evaluation report: self-contained, escaped, atomic, and rendered by a real browser.

The browser tests run headless Chromium on the written file. Chromium is a test requirement
(like pytest): when it is missing the tests fail and say how to install it.
"""

from __future__ import annotations

import base64
import html.parser
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.spatial.distance import cdist
from typer.testing import CliRunner

from lookalike.cli import app
from lookalike.datasets import load_digits
from lookalike.demo import _write_report
from lookalike.evaluation import evaluate
from lookalike.evaluation.columns import encode_rows
from lookalike.evaluation.distances import nearest_distances
from lookalike.evaluation.figures import looks_like_digits, report_distances
from lookalike.evaluation.html import render_html
from lookalike.mixture import GaussianMixture

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NASTY = "<script>alert('x')</script>&"


class _Page(html.parser.HTMLParser):
    """Collects tags with their attributes, and the table rows of each metric section."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._section: str | None = None
        self._cells: list[str] | None = None
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        identifier = attributes.get("id") or ""
        if tag == "h2":
            metrics = identifier.startswith("metrics-")
            self._section = identifier.removeprefix("metrics-") if metrics else None
        elif tag == "tr" and self._section:
            self._cells = []
        elif tag == "td" and self._cells is not None:
            self._cells.append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False
        elif tag == "tr" and self._cells and self._section:
            self.rows.setdefault(self._section, []).append(self._cells)
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._in_cell and self._cells is not None:
            self._cells[-1] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + rng.normal(scale=0.5, size=n),
            "size": rng.gamma(2.0, size=n),
            NASTY: rng.choice(["a", "<b>bold</b>", "c"], size=n),
            "label": np.where(x + rng.normal(size=n) > 0, "yes", "no"),
        }
    )
    frame.loc[frame.index[:5], "size"] = np.nan
    return frame


@pytest.fixture(scope="module")
def mixed_report():
    real, holdout = _mixed(240, 0), _mixed(120, 1)
    synthetic = _mixed(200, 2)
    return evaluate(real, synthetic, holdout, target="label")


@pytest.fixture(scope="module")
def mixed_html(mixed_report, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    written = mixed_report.to_html(path)
    assert written == path
    return path


# --------------------------------------------------------------------------------------
# The file itself


def test_report_is_self_contained_and_its_images_are_pngs(mixed_report, mixed_html):
    text = mixed_html.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    page = _parse(text)
    tags = [tag for tag, _ in page.tags]
    assert "link" not in tags and "iframe" not in tags and "object" not in tags
    for tag, attributes in page.tags:
        if tag == "script":
            assert "src" not in attributes  # inline only
        for name in ("href", "src", "srcset", "data"):
            value = attributes.get(name)
            assert value is None or value.startswith("data:image/png;base64,"), (tag, name)
    images = [attributes for tag, attributes in page.tags if tag == "img"]
    # One figure per tell, then marginals, correlations, PCA and DCR; digits do not apply.
    figures = [attributes.get("id") for tag, attributes in page.tags if tag == "figure"]
    tells = [f"figure-tell-{i + 1}" for i in range(min(len(mixed_report.tells), 6))]
    assert figures == [*tells, "figure-dcr", "figure-marginals", "figure-correlation",
                       "figure-pca"]  # fmt: skip
    assert len(images) == len(figures)
    for attributes in images:
        payload = (attributes["src"] or "").removeprefix("data:image/png;base64,")
        data = base64.b64decode(payload, validate=True)
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and image.width > 100 and image.height > 100
            pixels = np.asarray(image.convert("L"), dtype=float)
        assert pixels.std() > 5  # something was drawn
        assert attributes.get("alt")


def test_metric_tables_match_the_metrics_frame(mixed_report, mixed_html):
    page = _parse(mixed_html.read_text(encoding="utf-8"))
    metrics = mixed_report.metrics
    assert set(page.rows) == set(metrics["category"])
    for category, rows in page.rows.items():
        expected = metrics[metrics["category"] == category]
        assert len(rows) == len(expected)
        for cells, (_, row) in zip(rows, expected.iterrows(), strict=True):
            assert cells[0] == row["metric"]
            assert cells[1] == ("" if row["column"] is None else str(row["column"]))
            if np.isnan(row["value"]):
                assert cells[2] == "n/a"
            else:
                shown = float(cells[2])  # 4 significant digits
                assert shown == pytest.approx(row["value"], rel=1e-3, abs=1e-12)
            if np.isnan(row["reference"]):
                assert cells[3] == "n/a"
            else:
                assert float(cells[3]) == pytest.approx(row["reference"], rel=1e-3, abs=1e-12)


def test_all_text_is_escaped(mixed_report, mixed_html):
    text = mixed_html.read_text(encoding="utf-8")
    assert NASTY in mixed_report.metrics["column"].astype(str).str.cat()
    assert "<script>alert" not in text and "<b>bold" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;" in text
    for sentence in mixed_report.summary:
        assert html_escape(sentence) in text
    page = _parse(text)
    assert sum(tag == "script" for tag, _ in page.tags) == 1


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_memorised_report_shows_the_warning(mixed_report, mixed_html, tmp_path):
    # The mixed data are independent draws: not memorised, no warning.
    assert not mixed_report.memorised
    assert 'id="memorised"' not in mixed_html.read_text(encoding="utf-8")
    real, holdout = _mixed(200, 3), _mixed(100, 4)
    copied = evaluate(real, real.sample(150, random_state=0), holdout)
    assert copied.memorised
    text = render_html(copied, tmp_path / "copied.html", figures=False).read_text()
    assert 'id="memorised"' in text
    assert f"{copied.memorised_share:.0%}" in text
    assert "<img" not in text


def test_writing_is_atomic(mixed_report, tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    target.write_text("previous report")

    def broken(report, random_state=0):
        raise RuntimeError("figure failed")

    monkeypatch.setattr("lookalike.evaluation.figures.report_figures", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        render_html(mixed_report, target)
    assert target.read_text() == "previous report"
    assert sorted(os.listdir(tmp_path)) == ["report.html"]


# --------------------------------------------------------------------------------------
# Figures and distances


def test_encoding_and_distances_against_brute_force():
    real, other = _mixed(80, 5), _mixed(30, 6)
    kinds = {"x": "numeric", "size": "numeric", "label": "categorical"}
    encoded_real, encoded_other = encode_rows(real, [real, other], kinds).arrays
    assert encoded_real.shape == (80, 4) and encoded_other.shape == (30, 4)
    # Numeric columns standardised on the real rows (missing -> the mean, i.e. 0).
    finite = real["size"].dropna()
    expected = (real["size"] - finite.mean()) / finite.std(ddof=0)
    np.testing.assert_allclose(encoded_real[:, 1], expected.fillna(0.0), atol=1e-12)
    # Two different categories are at distance 1.
    rows = encoded_real[:, 2:]
    differ = (real["label"].to_numpy()[:, None] != real["label"].to_numpy()[None, :])[0]
    np.testing.assert_allclose(cdist(rows[:1], rows)[0], differ.astype(float), atol=1e-12)
    # Nearest-neighbour distances equal the brute-force minimum over all pairs.
    brute = cdist(encoded_other, encoded_real).min(axis=1)
    np.testing.assert_allclose(nearest_distances(encoded_real, encoded_other), brute, atol=1e-9)


def test_distances_come_from_the_report_when_it_has_them(mixed_report):
    synthetic, holdout = report_distances(mixed_report)
    np.testing.assert_array_equal(synthetic, mixed_report.distances["synthetic"])
    assert holdout is not None
    np.testing.assert_array_equal(holdout, mixed_report.distances["holdout"])


@pytest.mark.slow
def test_demo_report_evaluates_new_digits_against_train_and_holdout(tmp_path):
    X, _ = load_digits()
    frame = pd.DataFrame(X[:50], columns=[f"x{i}" for i in range(64)])
    assert looks_like_digits(frame)
    assert not looks_like_digits(frame * 2)  # values up to 32
    assert not looks_like_digits(frame.iloc[:, :63])

    path = tmp_path / "report.html"
    summary = _write_report(X, GaussianMixture(2, random_state=0), 0, path)
    text = path.read_text(encoding="utf-8")
    assert summary and all(html_escape(sentence) in text for sentence in summary)
    # 80% train, 20% holdout, as many new digits as holdout digits.
    n_holdout = round(0.2 * len(X))
    assert f"real: {len(X) - n_holdout} rows x 64 columns" in text
    assert f"synthetic: {n_holdout} rows x 64 columns" in text
    assert f"holdout: {n_holdout} rows x 64 columns" in text
    ids = [attributes.get("id") for tag, attributes in _parse(text).tags if tag == "figure"]
    others = [i for i in ids if not i.startswith("figure-tell-")]
    assert others == [
        f"figure-{key}" for key in ("dcr", "marginals", "correlation", "pca", "digits")
    ]
    assert "dcr_holdout" in text


# --------------------------------------------------------------------------------------
# A real browser


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "headless Chromium is needed for the report's browser test and was not found: "
        "install it with 'apt-get update && apt-get install -y chromium' (Debian/Ubuntu) "
        "or 'make chromium'"
    )


def _browse(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        _chromium(),
        "--headless=new",
        "--disable-gpu",
        "--no-sandbox",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        f"--user-data-dir={profile}",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _console_problems(stderr: str) -> list[str]:
    """Console messages and uncaught errors in Chromium's log (the report logs nothing)."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_console_check_catches_a_broken_page(tmp_path):
    # The browser checks below could fail: a page with a script error is caught.
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>missingFunction();</script></body></html>")
    result = _browse(page, tmp_path / "profile", "--dump-dom")
    assert any("Uncaught" in line for line in _console_problems(result.stderr))


def test_chromium_loads_every_image_without_errors(mixed_html, tmp_path):
    result = _browse(mixed_html, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _console_problems(result.stderr) == []
    n_images = len([tag for tag, _ in _parse(mixed_html.read_text()).tags if tag == "img"])
    match = re.search(r'<body[^>]*data-images-loaded="(\d+)"', result.stdout)
    assert match, "the report's load script did not run"
    assert int(match.group(1)) == n_images >= 4


def test_chromium_screenshot_is_not_blank(mixed_html, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    result = _browse(
        mixed_html, tmp_path / "profile", "--window-size=1200,3000", f"--screenshot={shot}"
    )
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    assert _console_problems(result.stderr) == []
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (1200, 3000)
        pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 10  # text and figures, not a blank page
    # The figures' colours (real blue, synthetic orange) were painted.
    blue = np.all(np.abs(pixels - [31, 119, 180]) < 40, axis=-1).mean()
    orange = np.all(np.abs(pixels - [255, 127, 14]) < 40, axis=-1).mean()
    assert blue > 1e-4 and orange > 1e-4


# --------------------------------------------------------------------------------------
# Command line


def test_cli_evaluate_writes_the_report(tmp_path):
    _mixed(80, 0).to_csv(tmp_path / "real.csv", index=False)
    _mixed(60, 1).to_csv(tmp_path / "holdout.csv", index=False)
    _mixed(60, 2).to_csv(tmp_path / "synthetic.csv", index=False)
    out = tmp_path / "out" / "report.html"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(tmp_path / "real.csv"),
            str(tmp_path / "synthetic.csv"),
            "--holdout",
            str(tmp_path / "holdout.csv"),
            "--target",
            "label",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.exists() and "wrote" in result.output
    assert "Privacy" in out.read_text() and out.read_text().count("<img") >= 4


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.csv", "synthetic.csv"], "no such file"),
        (["real.csv", "synthetic.csv", "--target", "nope"], "--target 'nope' is not a column"),
        (["real.csv", "synthetic.csv", "-o", "report.txt"], "give -o a .html file"),
    ],
)
def test_cli_evaluate_errors(tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    _mixed(50, 0).to_csv("real.csv", index=False)
    _mixed(50, 1).to_csv("synthetic.csv", index=False)
    if "-o" not in arguments:
        arguments = [*arguments, "-o", "report.html"]
    result = CliRunner().invoke(app, ["evaluate", *arguments])
    assert result.exit_code == 2
    progress = re.compile(r"^\[ *\d+\.\ds\] ")  # the CLI's progress lines ([  0.1s] reading ...)
    lines = [line for line in result.output.strip().splitlines() if not progress.match(line)]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not Path("report.html").exists()
