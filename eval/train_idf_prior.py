"""Count the IDF prior (``rag/models/idf-prior``): the share of the training split's articles
holding each term, as :func:`index.tokenize.terms` reads them (headline and text, cleaned as
the index loads them): ``python -m eval.train_idf_prior --data ../shared/data/realtimeqa-train``.

The dev quarter is never counted. The table holds counts only, no text; a recount of the same
articles gives the same bytes and checksum.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from eval.reader_data import ARTICLES_FILE, quarters
from index.load import load_articles
from index.tokenize import terms
from rag import idf_prior


def article_files(data: str | Path, names: list[str] | None = None) -> list[Path]:
    """The articles file of each quarter of ``data`` (``names``: only these quarters)."""
    found = quarters(data)
    if names:
        missing = set(names) - {q.name for q in found}
        if missing:
            raise FileNotFoundError(f"--quarters: {', '.join(sorted(missing))} not in {data}")
        found = [q for q in found if q.name in names]
    return [q / ARTICLES_FILE if (q / ARTICLES_FILE).is_file() else q / f"{ARTICLES_FILE}.gz" for q in found]


def train(data: str | Path, out: str | Path, names: list[str] | None = None, *, progress: bool = True) -> Path:
    """Count the articles of ``data``'s quarters and write the prior folder ``out``."""
    files = article_files(data, names)
    report = load_articles(files)
    articles = tqdm(report.articles, desc="Counting", unit="article", disable=not progress)
    n, df = idf_prior.count(terms(f"{a.title}\n{a.text}") for a in articles)
    if n == 0:
        raise ValueError(f"--data {data}: no article could be loaded")
    return idf_prior.write(out, n, df, {"quarters": [f.parent.name for f in files], "articles": n})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.train_idf_prior", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the training split (folders of articles + questions)")
    p.add_argument("--out", default=str(idf_prior.BUNDLED), help="folder to write (default: the bundled one)")
    p.add_argument("--quarters", help="comma-separated quarter names (default: all)")
    args = p.parse_args(argv)
    try:
        folder = train(args.data, args.out, args.quarters.split(",") if args.quarters else None)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    manifest = idf_prior.IdfPrior(folder).manifest
    print(f"Wrote {folder}: {manifest['terms']} terms over {manifest['articles']} articles, "
          f"sha256 {manifest['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
