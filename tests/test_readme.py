"""Every ```python block of README.md runs as written, and so do its quick ```bash lines.

Each python block is a self-contained program: it imports what it uses and makes
its own data. The blocks of one section (a ``##`` heading; the text before the
first heading is the section "intro") run in order in one temporary folder, so a
file one block writes (``events/``) is there for the next; they share no
variables. There is no prelude. A block holding ``if __name__ == "__main__":`` is
a script (a local Dask cluster's workers import it) and runs as one, in a fresh
Python process; the others run in this process, each in a fresh namespace, so
nothing is imported twice. Figures are drawn with matplotlib's Agg backend.

Of the ```bash blocks, the lines that only ask the ``lookalike`` command for its
help or version run (they must exit 0 and print); the others fit or sample
files the README does not ship, or run ``make``, and are left to CI's own run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
_QUICK = re.compile(r"^lookalike( [a-z]+)? --(help|version)$")


def _sections() -> dict[str, list[tuple[str, str]]]:
    """Section title -> its fenced blocks, in order, as (language, code)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    title, start = "intro", 0
    text = README.read_text(encoding="utf-8")
    headings = list(re.finditer(r"^## (.+)$", text, re.MULTILINE))
    bounds = [(title, 0)] + [(m.group(1).strip(), m.end()) for m in headings]
    for index, (title, start) in enumerate(bounds):
        end = headings[index].start() if index < len(headings) else len(text)
        sections[title] = [(m.group(1), m.group(2)) for m in _FENCE.finditer(text[start:end])]
    return sections


SECTIONS = _sections()
PYTHON_SECTIONS = [
    t for t, blocks in SECTIONS.items() if any(lang == "python" for lang, _ in blocks)
]


def test_the_readme_has_the_blocks_this_file_runs():
    """Guards against a parser that silently finds nothing."""
    assert {"intro", "The toolkit", "Bigger than memory, or than one machine"} <= set(
        PYTHON_SECTIONS
    )
    assert sum(len(b) for t, b in SECTIONS.items() if t in PYTHON_SECTIONS) >= 7
    assert {"lookalike --help", "lookalike --version"} <= set(_quick_commands())


@pytest.mark.slow  # each section fits models for seconds; the Dask one starts a cluster
@pytest.mark.parametrize("title", [pytest.param(t, id=t.split(":")[0]) for t in PYTHON_SECTIONS])
def test_python_blocks_run_as_written(title, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    blocks = [code for lang, code in SECTIONS[title] if lang == "python"]
    for number, code in enumerate(blocks, start=1):
        where = f"README section {title!r}, python block {number}"
        if re.search(r"^if __name__ == .__main__.:", code, re.MULTILINE):
            script = tmp_path / f"block_{number}.py"
            script.write_text(code, encoding="utf-8")
            result = subprocess.run(
                [sys.executable, str(script)],
                capture_output=True,
                text=True,
                timeout=600,
                env={**os.environ, "MPLBACKEND": "Agg"},
            )
            assert result.returncode == 0, f"{where}:\n{result.stderr[-3000:]}"
        else:
            namespace = {"__name__": f"readme_block_{number}"}
            exec(compile(code, where, "exec"), namespace)
        plt.close("all")


def _quick_commands() -> list[str]:
    lines = []
    for blocks in SECTIONS.values():
        for lang, code in blocks:
            if lang != "bash":
                continue
            for line in code.splitlines():
                command = line.split("#", 1)[0].strip()
                if _QUICK.match(command):
                    lines.append(command)
    return lines


@pytest.mark.parametrize("command", _quick_commands())
def test_quick_bash_lines_run(command):
    """The installed console script, as a user types it (``python -m`` without one)."""
    script = Path(sys.executable).with_name("lookalike")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "lookalike.cli"]
    result = subprocess.run(
        head + shlex.split(command)[1:],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and not result.stderr
