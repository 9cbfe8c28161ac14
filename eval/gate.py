"""The regression gate: a run's metrics against the thresholds in ``eval/thresholds.json``.

The file maps metric names to bounds, ``{"answer_accuracy": {"min": 0.6}}`` or
``{"false_abstention_rate": {"max": 0.1}}`` (both bounds may be given).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from eval.scoring import METRIC_KEYS

THRESHOLDS = Path(__file__).parent / "thresholds.json"
BOUNDS = ("min", "max")


def load_thresholds(path: str | Path = THRESHOLDS) -> dict[str, dict[str, float]]:
    """Read and check a thresholds file.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: bad JSON, an unknown metric (valid ones are listed) or a malformed bound.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object of metric name -> bounds")
    for name, bounds in data.items():
        if name not in METRIC_KEYS:
            raise ValueError(f"{path}: unknown metric {name!r}; valid metrics: {', '.join(METRIC_KEYS)}")
        ok = isinstance(bounds, dict) and bounds and set(bounds) <= set(BOUNDS) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in bounds.values())
        if not ok:
            raise ValueError(f"{path}: {name!r} must map to {{\"min\": x}} and/or {{\"max\": x}}, got {bounds!r}")
    return data


def check(metrics: Mapping[str, float | None], thresholds: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Failures as readable lines (empty when every threshold holds).

    A metric the run could not measure (None: no question it applies to) fails, so a gate is
    never passed by leaving its questions out.
    """
    failures = []
    for name, bounds in thresholds.items():
        value = metrics.get(name)
        if value is None:
            failures.append(f"{name}: not measured (no question it applies to)")
            continue
        if "min" in bounds and value < bounds["min"]:
            failures.append(f"{name} = {value:.4g} is below the minimum {bounds['min']:.4g}")
        if "max" in bounds and value > bounds["max"]:
            failures.append(f"{name} = {value:.4g} is above the maximum {bounds['max']:.4g}")
    return failures
