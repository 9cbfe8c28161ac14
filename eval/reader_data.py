"""Training data for the reader, mined with the project's own pipeline (``newsdesk train-reader``).

For each quarter of a quiz split (a folder of ``articles.jsonl[.gz]`` + ``questions.jsonl[.gz]``
folders, or one such folder): the articles are indexed with :func:`index.build.build_index`,
each question is read by :meth:`rag.Assistant.read` exactly as ``ask`` reads it, and every
candidate sentence is labelled by distant supervision: positive when it holds the quiz answer
(the same containment rule as the ``answer_accuracy`` metric). The cross-encoder also learns
from the gold articles themselves: their sentences that hold the answer are positives, and
the ones that do not, hard negatives from the right story.

Everything is cached in the work folder (the unpacked files, each quarter's index, the mined
candidates keyed by a hash of what made them), so a rerun skips what is done.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval.data import ARTICLES_FILE, QUESTIONS_FILE, load_dataset
from eval.metrics import answer_accuracy
from eval.questions import Question
from index.build import build_index
from index.chunk import sentence_spans
from index.records import Article
from index.settings import IndexSettings
from rag import Assistant, Config
from rag.reader import base_features, pair_text

MINE_VERSION = 2  # bump when what is mined changes: cached candidates are then mined again
# Mining indexes embed only each article's first chunk: the whole split is 23k articles, and
# embedding 8 chunks of each would take over an hour on 2 cores. Retrieval still fuses BM25,
# whole-article BM25 and the lead's vector, so the candidates are the kind ``ask`` reads.
MINING_SETTINGS = IndexSettings(dense_chunks_per_article=1)
# Gold-article sentences kept per question for the cross-encoder (positives, then negatives).
GOLD_POSITIVES = 2
GOLD_NEGATIVES = 3


@dataclass
class MinedQuestion:
    """One question's candidates: the combiner's feature rows (cross-encoder columns empty),
    labels, and the text the cross-encoder reads for each; plus gold-article sentences."""

    id: str
    quarter: str
    question: str
    answers: list[str]
    features: list[list[float]]
    labels: list[int]
    texts: list[str]
    gold_texts: list[str]
    gold_labels: list[int]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["features"] = [[None if v != v else round(v, 6) for v in row] for row in self.features]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MinedQuestion:
        d = dict(d)
        d["features"] = [[float("nan") if v is None else v for v in row] for row in d["features"]]
        return cls(**d)


def quarters(data: str | Path) -> list[Path]:
    """The quarter folders of a split (or the folder itself when it holds the two files)."""
    root = Path(data)
    if _has_files(root):
        return [root]
    found = sorted(p for p in root.iterdir() if p.is_dir() and _has_files(p)) if root.is_dir() else []
    if not found:
        raise FileNotFoundError(f"--data {root} holds no {ARTICLES_FILE}[.gz] + {QUESTIONS_FILE}[.gz] "
                                "(nor folders of them)")
    return found


def _has_files(folder: Path) -> bool:
    return all((folder / n).is_file() or (folder / f"{n}.gz").is_file() for n in (ARTICLES_FILE, QUESTIONS_FILE))


def unpack(folder: Path, work: Path) -> Path:
    """``folder``'s two files, un-gzipped into ``work/<name>/`` (the data stays read-only)."""
    out = work / folder.name
    out.mkdir(parents=True, exist_ok=True)
    for name in (ARTICLES_FILE, QUESTIONS_FILE):
        target = out / name
        if target.exists():
            continue
        src = folder / name
        tmp = target.with_suffix(".part")
        if src.is_file():
            shutil.copyfile(src, tmp)
        else:
            with gzip.open(folder / f"{name}.gz", "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        tmp.rename(target)
    return out


def small_slice(folder: Path, work: Path, *, questions: int, others: int = 40) -> Path:
    """A small quarter for smoke runs: its first ``questions`` questions that have gold
    articles, those articles and ``others`` more, written to ``work/<name>-slice<questions>/``."""
    out = work / f"{folder.name}-slice{questions}"
    if (out / ARTICLES_FILE).exists() and (out / QUESTIONS_FILE).exists():
        return out
    plain = unpack(folder, work)
    records = [json.loads(line) for line in (plain / QUESTIONS_FILE).read_text(encoding="utf-8").splitlines() if line]
    articles = [json.loads(line) for line in (plain / ARTICLES_FILE).read_text(encoding="utf-8").splitlines() if line]
    urls = {a.get("url") for a in articles}
    chosen = [r for r in records if any(u in urls for u in r.get("gold_urls", []))][:questions]
    wanted = {u for r in chosen for u in r["gold_urls"]}
    kept = [a for a in articles if a.get("url") in wanted]
    kept += [a for a in articles if a.get("url") not in wanted][:others]
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in ((ARTICLES_FILE, kept), (QUESTIONS_FILE, chosen)):
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


def label(text: str, answers: list[str]) -> int:
    """1 when ``text`` holds an expected answer (the ``answer_accuracy`` rule), else 0."""
    return int(answer_accuracy(prediction=text, answers=answers) > 0)


def mine_question(assistant: Assistant, q: Question, rng: random.Random,
                  by_id: dict[str, Article] | None = None) -> MinedQuestion:
    """Read ``q`` as ``ask`` does and label what was read (``by_id``: the index's articles by id)."""
    by_id = by_id if by_id is not None else {a.id: a for a in assistant.articles()}
    reading = assistant.read(q.question, as_of=q.as_of)
    answers = list(q.answers)
    x = base_features(reading)
    texts = [pair_text(reading.read[s.evidence.passage].title, s.evidence.text) for s in reading.scored]
    labels = [label(s.evidence.text, answers) for s in reading.scored]
    gold_pos: list[str] = []
    gold_neg: list[str] = []
    for aid in q.relevant_ids:
        article = by_id.get(aid)
        if article is None:
            continue
        for s, e in sentence_spans(article.text[:20000]):
            sentence = article.text[s:e]
            if len(sentence) < 25:
                continue
            (gold_pos if label(sentence, answers) else gold_neg).append(pair_text(article.title, sentence))
    rng.shuffle(gold_pos)
    rng.shuffle(gold_neg)
    gold = gold_pos[:GOLD_POSITIVES] + gold_neg[:GOLD_NEGATIVES]
    return MinedQuestion(
        id=q.id, quarter="", question=q.question, answers=answers, features=x.tolist(), labels=labels,
        texts=texts, gold_texts=gold, gold_labels=[1] * min(len(gold_pos), GOLD_POSITIVES)
        + [0] * min(len(gold_neg), GOLD_NEGATIVES),
    )


def read_rows(cache: Path) -> list[dict] | None:
    """The records cached at ``cache`` (gzipped JSON lines), or None when there is no cache."""
    if not cache.exists():
        return None
    with gzip.open(cache, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def write_rows(cache: Path, rows: list[dict]) -> None:
    """Cache ``rows`` at ``cache``, written aside and renamed so a cut run leaves no half file."""
    tmp = cache.with_suffix(".part")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    tmp.rename(cache)


def _key(folder: Path, config: Config) -> str:
    h = hashlib.sha256(f"mine-v{MINE_VERSION}".encode())
    h.update(json.dumps(config.index.to_dict(), sort_keys=True).encode())
    h.update(json.dumps({"k": config.k, "answer_passages": config.read.passages}).encode())
    for name in (ARTICLES_FILE, QUESTIONS_FILE):
        f = folder / name
        h.update(f"{name}:{f.stat().st_size}:{int(f.stat().st_mtime)}".encode())
    return h.hexdigest()[:16]


def mine_quarter(folder: Path, work: Path, *, settings: IndexSettings = MINING_SETTINGS, seed: int = 13,
                 limit: int | None = None, progress: bool = True) -> list[MinedQuestion]:
    """Every answerable question of one quarter, mined (cached in ``work``)."""
    plain = unpack(folder, work)
    config = Config(index=settings, read={"reader": None})
    cache = plain / f"mined-{_key(plain, config)}{'-' + str(limit) if limit else ''}.jsonl.gz"
    cached = read_rows(cache)
    if cached is not None:
        return [MinedQuestion.from_dict(d) for d in cached]
    build_index([plain / ARTICLES_FILE], plain / "index", settings=settings, progress=progress)
    assistant = Assistant.from_index(plain / "index", config=config, progress=progress)
    questions = [q for q in load_dataset(plain).questions if q.answers][:limit]
    rng = random.Random(seed)
    by_id = {a.id: a for a in assistant.articles()}
    mined = []
    for q in tqdm(questions, desc=f"mining {folder.name}", unit="q", disable=not progress):
        m = mine_question(assistant, q, rng, by_id)
        m.quarter = folder.name
        mined.append(m)
    write_rows(cache, [m.to_dict() for m in mined])
    return mined


def mine(data: str | Path, work: str | Path, *, limit: int | None = None, seed: int = 13,
         progress: bool = True) -> Iterator[MinedQuestion]:
    """Mined questions of every quarter of ``data``, quarter by quarter."""
    for folder in quarters(data):
        yield from mine_quarter(folder, Path(work), seed=seed, limit=limit, progress=progress)


def feature_matrix(mined: list[MinedQuestion]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked features, labels and group sizes (candidates per question), for the combiner."""
    rows = [np.asarray(m.features, dtype=np.float32) for m in mined if m.features]
    labels = [np.asarray(m.labels, dtype=np.int32) for m in mined if m.features]
    groups = np.array([len(m.features) for m in mined if m.features], dtype=np.int32)
    return np.concatenate(rows), np.concatenate(labels), groups
