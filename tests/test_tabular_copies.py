"""Copies of unique training rows (``Synthesizer(copies=...)``, lookalike.tabular.copies).

The reference is a brute-force comparison of rows as tuples of their values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lookalike.persistence import load, save
from lookalike.tabular import Synthesizer
from lookalike.tabular.copies import fingerprints, reproduces, unique_fingerprints


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Each row as a tuple of its values, missing values as None (the oracle's form)."""
    plain = frame.astype(object).where(frame.notna(), None)
    return [tuple(r) for r in plain.itertuples(index=False)]


def mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n).round(1),
            "k": rng.integers(0, 4, n),
            "c": pd.Categorical(rng.choice(["a", "b", None], n)),
            "d": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 9, n), "D"),
        }
    )


def test_fingerprints_agree_with_comparing_values():
    frame = mixed(400, 0)
    hashes = fingerprints(frame)
    tuples = rows(frame)
    first = {}
    for h, t in zip(hashes, tuples, strict=True):
        first.setdefault(t, h)
        assert first[t] == h  # equal rows, equal fingerprints
    assert len(set(hashes.tolist())) == len(first)  # different rows, different ones
    other = frame.copy()
    other["c"] = other["c"].cat.reorder_categories(["b", "a"])
    np.testing.assert_array_equal(fingerprints(other), hashes)  # values, not codes


def test_unique_fingerprints_are_the_rows_that_occur_once():
    frame = mixed(300, 1)
    tuples = rows(frame)
    once = {t for t in tuples if tuples.count(t) == 1}
    assert 0 < len(once) < len(tuples)  # the table has both kinds of rows
    unique = unique_fingerprints(frame)
    assert unique.size == len(once) and np.all(np.diff(unique.astype(np.float64)) > 0)
    expected = np.array([t in once for t in tuples])
    np.testing.assert_array_equal(reproduces(frame, unique), expected)
    assert not reproduces(frame.iloc[:0], unique).size


def copying_synthesizer(copies: str) -> Synthesizer:
    # Leaves of one row and no smoothing: every drawn value is a training value, so
    # most draws of a small table repeat a whole training row.
    from lookalike.tabular.models import SequentialTrees

    model = SequentialTrees(min_samples_leaf=1, smoothing=0.0)
    return Synthesizer(model=model, copies=copies, random_state=0)


def test_redraw_leaves_no_copy_of_a_unique_row_and_keeps_repeated_ones():
    train = mixed(60, 2)
    train = pd.concat([train, train.iloc[:10]], ignore_index=True)  # 10 rows occur twice
    tuples = rows(train)
    once = {t for t in tuples if tuples.count(t) == 1}
    twice = {t for t in tuples if tuples.count(t) == 2}
    kept = rows(copying_synthesizer("keep").fit(train).sample(2000))
    assert sum(t in once for t in kept) > 500  # the model copies: the check has work
    synth = copying_synthesizer("redraw").fit(train)
    drawn = rows(synth.sample(2000))
    assert len(drawn) == 2000
    assert not any(t in once for t in drawn)
    assert sum(t in twice for t in drawn) > 50  # repeated rows may come out
    assert synth.summary()["copies"] == {"policy": "redraw", "unique_training_rows": len(once)}
    pd.testing.assert_frame_equal(
        synth.sample(300, random_state=5), synth.sample(300, random_state=5)
    )


def test_conditions_that_only_copies_meet_say_so():
    train = pd.DataFrame({"g": list("abcdefgh"), "h": list("pqrstuvw")})
    synth = copying_synthesizer("redraw").fit(train)
    with pytest.raises(ValueError, match="copies='keep'"):
        synth.sample(1, where={"g": "c"})
    assert rows(copying_synthesizer("keep").fit(train).sample(1, where={"g": "c"})) == [("c", "r")]
    # Values the caller fixes in every column are the caller's own: not checked.
    fixed = synth.sample(3, where={"g": "c", "h": "r"})
    assert rows(fixed) == [("c", "r")] * 3
    alone = Synthesizer(random_state=0).fit(pd.DataFrame({"x": np.arange(50.0)}))
    assert alone.sample(2, where={"x": 7.0})["x"].tolist() == [7.0, 7.0]


@pytest.mark.filterwarnings("ignore::lookalike.tabular.constraints.LowAcceptanceWarning")
def test_fingerprints_survive_a_model_file(tmp_path):
    train = mixed(80, 3)
    synth = copying_synthesizer("redraw").fit(train)
    loaded = load(save(synth, tmp_path / "s.lookalike"))
    np.testing.assert_array_equal(loaded.unique_rows_, synth.unique_rows_)
    pd.testing.assert_frame_equal(
        loaded.sample(500, random_state=1), synth.sample(500, random_state=1)
    )
    kept = copying_synthesizer("keep").fit(train)
    assert kept.unique_rows_.size == 0 and kept.summary()["copies"]["unique_training_rows"] == 0
