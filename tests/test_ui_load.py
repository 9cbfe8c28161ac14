"""A small version of benchmarks/ui_load.py: concurrent gradio_client sessions, no errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "ui_load.py"


def _load_benchmark():  # noqa: ANN202 - the benchmark module
    spec = importlib.util.spec_from_file_location("ui_load", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server_url(sample_assistant):
    from ui.app import build_app, launch

    demo = build_app(sample_assistant)
    yield launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.close()


def test_concurrent_sessions_finish_without_errors(server_url: str) -> None:
    bench = _load_benchmark()
    result = bench.run_load(server_url, sessions=5, questions=2)
    print(result.summary())
    assert result.errors == []
    assert len(result.latencies) == 10


def test_follow_ups_use_their_own_session(server_url: str) -> None:
    """Two clients: a follow-up is rewritten from its own session's history, not the other's."""
    from gradio_client import Client

    first, second = Client(server_url, verbose=False), Client(server_url, verbose=False)
    first.predict("Who did Hasanov meet at IDEF 2025?", api_name="/chat")
    second.predict("What did the ECB decide about its deposit rate?", api_name="/chat")
    chat, _, _ = first.predict("What did they discuss?", api_name="/chat")
    last = chat[-1]["content"][0]["text"]
    assert "Searched for" in last and "Hasanov" in last and "ECB" not in last.split("</q>")[0]


def test_ask_api_returns_the_answer_as_json(server_url: str) -> None:
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    answer = client.predict("Who did Hasanov meet at IDEF 2025?", api_name="/ask")
    assert "Görgün" in answer["text"]
    assert answer["citations"][0]["article_id"] == "idef-2025-hasanov-gorgun"
    follow = client.predict("What did they discuss?", [[answer["question"], answer["text"]]], api_name="/ask")
    assert "Hasanov" in follow["query"]
    with pytest.raises(Exception, match="k must be between 1 and 100"):
        client.predict("Who did Hasanov meet?", k=500, api_name="/ask")
