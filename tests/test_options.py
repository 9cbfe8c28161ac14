"""``rag.options``: one place builds the assistant from options, and the layers point down."""

from __future__ import annotations

import ast
from pathlib import Path

from index.build import write_collection
from index.settings import IndexSettings
from rag.options import assistant_from_options
from tests.conftest import HashEmbedder, make_articles

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_ui_and_rag_never_import_the_command_line() -> None:
    upward = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.split(".")[0] == "newsdesk")
              for folder in ("ui", "rag", "index") for p in (ROOT / folder).glob("*.py")}
    assert {p: m for p, m in upward.items() if m} == {}


def test_options_set_the_index_and_the_config(tmp_path, monkeypatch) -> None:
    settings = IndexSettings(model="hash-64")  # what config_from_options makes of model="hash-64"
    write_collection(tmp_path / "idx", make_articles(3), settings=settings, embedder=HashEmbedder(), progress=False)
    # The hash model is not a real one: keep the assistant from loading an embedder for it.
    monkeypatch.setattr("rag.assistant.Embedder", lambda *a, **k: HashEmbedder())
    assistant = assistant_from_options({"index": tmp_path / "idx", "model": "hash-64", "k": 3, "rerank": 0,
                                        "host": "127.0.0.1", "fusion": None}, progress=False)
    assert assistant.index_dir == tmp_path / "idx"
    assert (assistant.config.k, assistant.config.rerank.articles, assistant.config.retrieve.fusion) == (3, 0, "convex")
    assert len(assistant.search("harbour bridge")) == 3
