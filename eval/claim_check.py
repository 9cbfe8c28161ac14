"""Measure the claim check on a set of labelled replies:
``python -m eval.claim_check --dataset eval/datasets/claims-blind.jsonl``.

Each line holds numbered passages, a reply written as a model would (with ``[n]`` markers) and
its label: ``changed`` (a fact the passages do not back: a place, a day, a number, a name, a
negation, an added clause, an uncited claim, a wrong passage, junk) or ``true`` (faithful:
verbatim, paraphrased, shortened, or uncited but in a passage). A reply counts as flagged when
the check flags any of its sentences. The issue's bar: flagged changed facts >= 0.95, flagged
true sentences <= 0.05.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from rag.check import check
from rag.records import Passage
from rag.support import SupportModel


def load(path: str | Path) -> list[dict]:
    """The set's items; a line that is not an item with passages, a reply and a label is an error."""
    items = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        labelled = item.get("label") in ("changed", "true")
        if not (item.get("passages") and isinstance(item.get("reply"), str) and labelled):
            raise ValueError(f"{path}:{n}: an item needs passages, a reply and a label (changed/true)")
        items.append(item)
    return items


def passages_of(item: dict) -> list[Passage]:
    return [Passage(article_id=p.get("article_id", f"p{i}"), title=p.get("title", ""), url=p.get("url", ""),
                    source=p.get("source", ""), date=None, text=p["text"], start=0, end=len(p["text"]), score=1.0)
            for i, p in enumerate(item["passages"], 1)]


def run(items: list[dict], embedder=None, model: SupportModel | None = None) -> dict:  # noqa: ANN001 - Embedder
    """Flagged shares per label and per kind, and each item's verdict."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    by_label: dict[str, list[bool]] = defaultdict(list)
    verdicts = []
    for item in items:
        checked = check(item["reply"], passages_of(item), embedder=embedder, model=model)
        flagged = bool(checked.flagged)
        by_kind[item.get("kind", item["label"])].append(flagged)
        by_label[item["label"]].append(flagged)
        verdicts.append({"id": item.get("id"), "label": item["label"], "kind": item.get("kind"), "flagged": flagged,
                         "warnings": checked.warnings})
    share = {k: round(sum(v) / len(v), 4) for k, v in by_label.items()}
    return {
        "items": len(items),
        "flagged_changed": share.get("changed"), "flagged_true": share.get("true"),
        "kinds": {k: {"n": len(v), "flagged": round(sum(v) / len(v), 4)} for k, v in sorted(by_kind.items())},
        "verdicts": verdicts,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.claim_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="a JSONL file of labelled replies")
    p.add_argument("--no-embedder", action="store_true", help="check without the embedding model's cosines")
    p.add_argument("--out", help="write every item's verdict and warnings here (JSON)")
    args = p.parse_args(argv)
    try:
        items = load(args.dataset)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    embedder = None
    if not args.no_embedder:
        from index.embed import Embedder

        embedder = Embedder()
    result = run(items, embedder)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"{result['items']} replies: flagged changed facts {result['flagged_changed']}, "
          f"flagged true sentences {result['flagged_true']}")
    for kind, row in result["kinds"].items():
        print(f"  {kind:<16} {row['n']:>4}  flagged {row['flagged']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
