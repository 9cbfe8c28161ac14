"""``rag.trees``: the bundled LightGBM models run with NumPy give LightGBM's own scores, and a
model it cannot run is left to LightGBM."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pytest

from rag.trees import Trees, load_booster

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted((ROOT / "rag" / "models").glob("*/*.txt"))


def _rows(trees: Trees, seed: int = 0, n: int = 300) -> np.ndarray:
    """Rows that reach every rule: the model's own thresholds (ties go left), values either side
    of them, NaN, zeros, -1 (the ranker's missing age) and values of every scale."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, trees.n_features)) * rng.choice([0.01, 1.0, 10.0, 1000.0], size=(1, trees.n_features))
    at = rng.integers(0, len(trees.threshold), size=n // 3)
    x[np.arange(n // 3), trees.feature[at]] = trees.threshold[at]  # exactly on a split
    x[n // 3 + np.arange(n // 3), trees.feature[at]] = np.nextafter(trees.threshold[at], np.inf)  # just above
    for value, share in ((np.nan, 0.1), (0.0, 0.1), (-1.0, 0.05), (1e-36, 0.02)):
        x[rng.random(x.shape) < share] = value
    return x


@pytest.mark.parametrize("path", MODELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_bundled_models_score_as_lightgbm_does(path: Path) -> None:
    trees = load_booster(path)
    assert isinstance(trees, Trees)  # none of them needs LightGBM at run time
    x = _rows(trees)
    expected = lightgbm.Booster(model_file=str(path)).predict(x)
    assert np.allclose(trees.predict(x), expected, rtol=0, atol=1e-12)
    assert np.allclose(trees.predict(x[0]), expected[:1], rtol=0, atol=1e-12)  # one row, as followup passes it
    with pytest.raises(ValueError, match=f"reads {trees.n_features} features"):
        trees.predict(x[:, :-1])


def test_a_model_with_categorical_splits_is_left_to_lightgbm(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.integers(0, 6, 400), rng.normal(size=400)])
    y = (x[:, 0] % 2 == 0).astype(float) + 0.1 * x[:, 1]
    data = lightgbm.Dataset(x, y, categorical_feature=[0])
    booster = lightgbm.train({"objective": "regression", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1,
                              "min_data_per_group": 5, "cat_smooth": 1}, data, num_boost_round=5)
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    with pytest.raises(ValueError, match="categorical"):
        Trees.from_file(path)
    loaded = load_booster(path)
    assert isinstance(loaded, lightgbm.Booster)
    assert np.allclose(loaded.predict(x), booster.predict(x))


def test_a_binary_model_trained_here_matches_including_single_leaf_trees(tmp_path: Path) -> None:
    """Trees of one leaf (a constant) and the sigmoid of a binary objective."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 3))
    x[rng.random(x.shape) < 0.2] = np.nan
    y = (np.nan_to_num(x[:, 0]) > 0).astype(float)
    booster = lightgbm.train({"objective": "binary", "num_leaves": 3, "verbose": -1, "min_data_in_leaf": 200,
                              "sigmoid": 0.7}, lightgbm.Dataset(x, y), num_boost_round=8)
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    assert "num_leaves=1\n" in path.read_text()  # min_data_in_leaf leaves some trees unsplit
    trees = Trees.from_file(path)
    assert np.allclose(trees.predict(x), booster.predict(x), rtol=0, atol=1e-12)
