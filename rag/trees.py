"""LightGBM models read and run with NumPy: the reader's combiner, chooser and ranker, the
follow-up decision and the claim check are small tree ensembles (150-200 trees of 7-15 leaves).

Importing ``lightgbm`` costs a second or more of every cold start (it imports scikit-learn,
pandas and SciPy's statistics when they are installed), more than running the trees. This
module walks the trees of the saved text model itself: every row through every tree at once,
one tree level per step, with LightGBM's own rules (``value <= threshold`` goes left; a missing
value, or a zero where zeros count as missing, takes the node's default side; NaN counts as 0
where the node has no missing-value rule). The scores equal ``lightgbm.Booster.predict``'s to
rounding (``tests/test_trees.py`` compares them). A model using what is not implemented here
(categorical splits, linear trees, several classes, averaged output, other objectives) is
loaded with LightGBM instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| <= it is zero for a "zero is missing" node
RAW_OBJECTIVES = ("lambdarank", "rank_xendcg", "regression", "regression_l1", "huber", "fair", "quantile", "mape")


class Trees:
    """A LightGBM text model's trees as flat arrays.

    Nodes of all trees share one numbering: an internal node is ``>= 0``; a leaf ``j`` is
    ``~j`` (negative), an index into :attr:`leaf_value`.

    Raises:
        ValueError: the model uses something this class does not implement.
    """

    def __init__(self, text: str) -> None:
        head, sep, rest = text.partition("\nTree=")
        if not sep:
            raise ValueError("no trees in the model")
        header = _fields(head)
        if int(header.get("num_class", "1")) != 1 or int(header.get("num_tree_per_iteration", "1")) != 1 \
                or "average_output" in head.split():
            raise ValueError("several classes or averaged output")
        objective = header.get("objective", "").split()
        self.sigmoid: float | None = None
        if objective[:1] == ["binary"]:
            self.sigmoid = float(next((o.split(":")[1] for o in objective if o.startswith("sigmoid:")), "1"))
        elif objective[:1] and objective[0] not in RAW_OBJECTIVES:
            raise ValueError(f"objective {objective[0]!r}")
        self.n_features = int(header["max_feature_idx"]) + 1
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("feature", "threshold", "left", "right", "decision",
                                                                "leaf_value", "root")}
        self.constant = 0.0  # trees of a single leaf
        nodes = leaves = 0
        for block in rest.split("end of trees")[0].split("\nTree="):
            tree = _fields(block)
            if int(tree.get("num_cat", "0")) or int(tree.get("is_linear", "0")):
                raise ValueError("categorical splits or linear trees")
            leaf_value = np.array(tree["leaf_value"].split(), dtype=np.float64)
            if int(tree["num_leaves"]) == 1:
                self.constant += float(leaf_value[0])
                continue
            decision = np.array(tree["decision_type"].split(), dtype=np.int64)
            for side in ("left", "right"):
                child = np.array(tree[f"{side}_child"].split(), dtype=np.int64)
                parts[side].append(np.where(child >= 0, child + nodes, ~(~child + leaves)))
            parts["feature"].append(np.array(tree["split_feature"].split(), dtype=np.int64))
            parts["threshold"].append(np.array(tree["threshold"].split(), dtype=np.float64))
            parts["decision"].append(decision)
            parts["leaf_value"].append(leaf_value)
            parts["root"].append(np.array([nodes]))
            nodes, leaves = nodes + len(decision), leaves + len(leaf_value)
        joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
        self.feature, self.threshold = joined["feature"].astype(np.int64), joined["threshold"]
        self.left, self.right = joined["left"].astype(np.int64), joined["right"].astype(np.int64)
        decision = joined["decision"].astype(np.int64)
        self.default_left = (decision & 2) != 0
        self.missing = (decision >> 2) & 3  # 0 none, 1 zero, 2 NaN
        self.leaf_value, self.roots = joined["leaf_value"], joined["root"].astype(np.int64)

    @classmethod
    def from_file(cls, path: str | Path) -> Trees:
        return cls(Path(path).read_text(encoding="utf-8"))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """One score per row of ``x`` (shape ``(n, n_features)``), as ``Booster.predict`` gives it."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"the model reads {self.n_features} features, got an array of shape {x.shape}")
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        inner = node >= 0
        while inner.any():
            at = np.where(inner, node, 0)
            value = x[rows, self.feature[at]]
            missing = self.missing[at]
            nan = np.isnan(value)
            value = np.where(nan & (missing != 2), 0.0, value)
            default = ((missing == 1) & (np.abs(value) <= ZERO)) | ((missing == 2) & nan)
            left = np.where(default, self.default_left[at], value <= self.threshold[at])
            node = np.where(inner, np.where(left, self.left[at], self.right[at]), node)
            inner = node >= 0
        raw = self.leaf_value[~node].sum(axis=1) + self.constant
        return raw if self.sigmoid is None else 1.0 / (1.0 + np.exp(-self.sigmoid * raw))


def _fields(block: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in block.splitlines() if "=" in line)


def load_booster(path: str | Path):  # noqa: ANN201 - Trees, or lightgbm.Booster for what Trees cannot run
    """The model saved at ``path`` (LightGBM's text format), ready to ``predict``."""
    try:
        return Trees.from_file(path)
    except (ValueError, KeyError):
        import lightgbm

        return lightgbm.Booster(model_file=str(path))
