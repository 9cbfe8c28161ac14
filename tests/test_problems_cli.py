"""``--problems FILE`` on the writing commands (``index build``, ``index add``, ``index watch``):
every load problem as one JSON line, and a summary grouped by kind in which a rare kind is
never hidden behind thousands of duplicates (issue 30, F13)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from index.watch import Watcher
from newsdesk.cli import main

KEYS = {"file", "line", "kind", "reason", "kept"}


def hostile_folder(root: Path, bad_lines: int = 40) -> Path:
    """Many malformed lines, and one each of a FIFO, an empty file and a symlink loop."""
    src = root / "src"
    src.mkdir()
    (src / "a-many.jsonl").write_text("{broken\n" * bad_lines)
    os.mkfifo(src / "pipe.jsonl")
    (src / "empty.csv").write_text("")
    os.symlink("loop.jsonl", src / "loop.jsonl")
    return src


def problems_in(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(row) == KEYS for row in rows)
    return rows


def test_index_build_writes_every_problem_and_groups_the_summary_by_kind(tmp_path, capsys):
    src, out = hostile_folder(tmp_path), tmp_path / "problems.jsonl"
    assert main(["index", "build", str(src), "--index", str(tmp_path / "idx"), "--quiet", "--problems", str(out)]) == 1
    rows = problems_in(out)
    assert len(rows) == 43
    kinds = {row["kind"] for row in rows}
    assert kinds == {"malformed-json", "not-regular-file", "empty-file", "unreadable"}
    assert {"file": str(src / "pipe.jsonl"), "line": None, "kind": "not-regular-file",
            "reason": "not a regular file (a FIFO); not read", "kept": False} in rows
    err = capsys.readouterr().err
    assert f"Every problem (43) is in {out} (one JSON object per line)." in err
    assert "  malformed-json: 40\n" in err and "    ... and 37 more\n" in err
    for kind in ("not-regular-file: 1", "empty-file: 1", "unreadable: 1"):
        assert f"  {kind}\n" in err
    assert "pipe.jsonl: not a regular file (a FIFO); not read" in err
    assert "loop.jsonl: cannot read: Too many levels of symbolic links" in err


def test_index_add_writes_every_problem(tmp_path, capsys):
    src, out = hostile_folder(tmp_path, bad_lines=12), tmp_path / "problems.jsonl"
    assert main(["index", "add", str(src), "--index", str(tmp_path / "idx"), "--problems", str(out)]) == 1
    rows = problems_in(out)
    assert [row["line"] for row in rows if row["kind"] == "malformed-json"] == list(range(1, 13))
    stdout = capsys.readouterr().out
    assert "  malformed-json: 12\n" in stdout and "  not-regular-file: 1\n" in stdout
    assert stdout.rstrip().endswith(f"Every problem (15) is in {out} (one JSON object per line).")


def test_index_watch_appends_each_batch_and_groups_its_lines(tmp_path, hash_embedder):
    inbox, lines = tmp_path / "inbox", []
    inbox.mkdir()
    out = inbox / "problems.jsonl"  # inside the watched folder: written, never read back in
    out.write_text("left from an earlier run\n")
    (inbox / "first.jsonl").write_text(json.dumps({"id": "w1", "text": "Ships waited at anchor."}) + "\n"
                                       + "{broken\n" * 20)
    watcher = Watcher(inbox, tmp_path / "idx", embedder=hash_embedder, report=lines.append, problems=out)
    watcher.run(once=True)
    (inbox / "second.jsonl").write_text("{broken\n")
    watcher.poll()
    watcher.poll()
    rows = problems_in(out)
    assert [(Path(r["file"]).name, r["line"]) for r in rows] == [("first.jsonl", n) for n in range(2, 22)] + [
        ("second.jsonl", 1)]
    assert "  malformed-json: 20" in lines and "    ... and 17 more" in lines
    assert f"  (20 problems appended to {out})" in lines and f"  (1 problem appended to {out})" in lines


def test_the_cli_help_names_the_option():
    from newsdesk.cli import build_parser

    parser = build_parser()
    for argv in (["index", "build", "x", "--index", "i"], ["index", "add", "x", "--index", "i"],
                 ["index", "watch", "x", "--index", "i"]):
        assert parser.parse_args([*argv, "--problems", "p.jsonl"]).problems == "p.jsonl"
