"""``/v1`` on a served app, driven by the official ``openai`` client against a real server over
the bundled sample (one server for the module), plus the pure pieces (spans, pieces, limiter)."""

from __future__ import annotations

import re
import threading

import httpx
import openai
import pytest

from index.build import write_collection
from index.settings import IndexSettings
from index.store import IndexStore
from rag import Assistant
from rag.config import Config
from tests.conftest import HashEmbedder, free_port, make_articles
from ui.auth import ApiKey
from ui.openai_api import LLM_MODEL, MODEL, ApiError, Limiter, OpenAIApi, cited_spans, pieces

KEY = "nd-test-key-0123456789"
USER, PASSWORD = "ed", "s3cret pass"
HASANOV = "Who did Hasanov meet at IDEF 2025?"
AZERNEWS = "https://www.azernews.az/nation/2025/07/23/hasanov-meets-haluk-gorgun-at-idef-2025.html"


@pytest.fixture(scope="module")
def server(sample_assistant):
    """The sample collection served with a login and an API key: the key alone must do for /v1."""
    from ui.app import build_app, launch

    demo = build_app(sample_assistant, private_uploads=False)
    url = launch(demo, port=free_port(), auth=(USER, PASSWORD), prevent_thread_lock=True, quiet=True,
                 api=OpenAIApi(sample_assistant, key=ApiKey(KEY)))
    yield url.rstrip("/")
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key=KEY, max_retries=0, timeout=120)


def ask(client: openai.OpenAI, messages: list[dict], **extra) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=MODEL, messages=messages, extra_body=extra or None)


def check_hasanov(text: str, annotations: list[dict], citations: list[str]) -> None:
    assert "[1]" in text and "Görgün" in text
    assert annotations and annotations[0]["type"] == "url_citation"
    cited = annotations[0]["url_citation"]
    assert cited["url"] == AZERNEWS and "Hasanov" in cited["title"]
    span = text[cited["start_index"]:cited["end_index"]]
    assert span.endswith("[1]") and "Hasanov" in span, span  # the claim its marker closes
    assert citations[0] == AZERNEWS


@pytest.mark.slow
def test_the_models_are_listed_with_the_key_and_no_browser_login(client):
    assert [m.id for m in client.models.list()] == [MODEL]  # no generator configured: no newsdesk+llm
    assert client.models.retrieve(MODEL).id == MODEL


@pytest.mark.slow
def test_newsdesk_llm_is_offered_only_with_a_generator(sample_assistant):
    assert OpenAIApi(sample_assistant, llm_model="qwen2.5").models == (MODEL, LLM_MODEL)
    assert OpenAIApi(sample_assistant).models == (MODEL,)


@pytest.mark.slow
def test_the_hasanov_answer_keeps_its_marker_and_cites_azernews(client):
    reply = ask(client, [{"role": "user", "content": HASANOV}])
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "stop" and reply.model == MODEL
    check_hasanov(message.content, [a.model_dump() for a in message.annotations], reply.model_extra["citations"])
    details = reply.model_extra["newsdesk"]
    assert details["citations"][0]["source"] == "azernews.az" and "passages" not in details


@pytest.mark.slow
def test_the_streamed_hasanov_answer_carries_the_same_citation(client):
    text, annotations, final = "", [], None
    for chunk in client.chat.completions.create(model=MODEL, stream=True,
                                                messages=[{"role": "user", "content": HASANOV}]):
        delta = chunk.choices[0].delta
        text += delta.content or ""
        annotations += (delta.model_extra or {}).get("annotations") or []
        if chunk.choices[0].finish_reason:
            final = chunk
    assert final is not None and final.choices[0].finish_reason == "stop"
    check_hasanov(text, annotations, final.model_extra["citations"])
    assert text == ask(client, [{"role": "user", "content": HASANOV}]).choices[0].message.content


@pytest.mark.slow
def test_earlier_messages_make_the_last_one_a_follow_up(client):
    first = ask(client, [{"role": "user", "content": HASANOV}]).choices[0].message.content
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": HASANOV},
                {"role": "assistant", "content": first}, {"role": "user", "content": "What did they discuss?"}]
    follow = ask(client, messages)
    alone = ask(client, [{"role": "user", "content": "What did they discuss?"}])
    assert "Hasanov" in follow.model_extra["newsdesk"]["query"]  # rewritten from the conversation
    assert alone.model_extra["newsdesk"]["query"] == "What did they discuss?"
    assert AZERNEWS in follow.model_extra["citations"]
    assert "[1]" in follow.choices[0].message.content and follow.choices[0].message.annotations


@pytest.mark.slow
def test_filters_ride_in_extra_fields(client):
    reply = ask(client, [{"role": "user", "content": HASANOV}], date_to="2025-01-01")
    assert AZERNEWS not in reply.model_extra["citations"]  # published 2025-07-23, after the range
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        ask(client, [{"role": "user", "content": HASANOV}], date_from="2025-13-45")
    assert "date_from" in refused.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        ask(client, [{"role": "user", "content": HASANOV}], k="ten")


@pytest.mark.slow
def test_no_key_or_a_wrong_key_is_401_and_the_key_opens_no_other_route(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        response = httpx.post(f"{server}/v1/chat/completions", headers=headers, timeout=60,
                              json={"model": MODEL, "messages": [{"role": "user", "content": HASANOV}]})
        assert response.status_code == 401, headers
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0).models.list()
    assert httpx.get(f"{server}/config", headers={"Authorization": f"Bearer {KEY}"}, timeout=60).status_code == 401


@pytest.mark.slow
def test_bad_requests_get_openai_error_objects(server, client):
    bearer = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    cases = [
        (b"{", 400), (b"[]", 400), (b'{"model": "newsdesk"}', 400), (b'{"messages": []}', 400),
        (b'{"model": "newsdesk", "messages": [{"role": "assistant", "content": "hi"}]}', 400),
        (b'{"model": "newsdesk", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}', 400),
        (b'{"model": "newsdesk", "messages": [{"role": "user", "content": "q"}], "n": 3}', 400),
        (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}]}', 404),
        (b'{"model": "newsdesk", "messages": [{"role": "user", "content": "q"}], "k": 0}', 422),
        (b'{"model": "newsdesk", "messages": [{"role": "user", "content": "' + b"x" * 2_000_000 + b'"}]}', 413),
    ]
    for body, status in cases:
        response = httpx.post(f"{server}/v1/chat/completions", content=body, headers=bearer, timeout=60)
        assert response.status_code == status, (body[:80], response.text)
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and "Traceback" not in error["message"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=[])
    assert refused.value.body["param"] == "messages"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": HASANOV}])
    assert httpx.get(f"{server}/v1/nope", headers=bearer, timeout=60).json()["error"]["code"] == "not_found"
    assert httpx.get(f"{server}/v1/chat/completions", headers=bearer, timeout=60).status_code == 405


@pytest.fixture(scope="module")
def with_llm(sample_assistant):
    """The sample served with a generator: a scripted OpenAI-compatible model (tests/test_llm.py's),
    reached through the NEWSDESK_LLM_* variables the assistant reads at each question."""
    from tests.test_llm import ChatServer
    from ui.app import build_app, launch

    model = ChatServer()
    thread = threading.Thread(target=model.serve_forever, daemon=True)
    thread.start()
    demo = build_app(sample_assistant, private_uploads=False)
    url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True,
                 api=OpenAIApi(sample_assistant, llm_model="m"))
    yield url.rstrip("/"), model
    demo.close()
    model.shutdown()
    model.server_close()


def hasanov_reply(body: dict) -> str:
    """Cites the Hasanov passage by its number in the prompt, and a passage that is not there."""
    prompt = body["messages"][-1]["content"]
    n = next(int(i) for i, head in re.findall(r'<passage id="(\d+)">\nHeadline: ([^\n]*)', prompt) if "Görgün" in head)
    return f"At IDEF 2025 Hasanov held a meeting with Haluk Görgün [{n}][40]."


@pytest.mark.slow
def test_newsdesk_llm_streams_the_checked_answer_not_the_draft(with_llm, monkeypatch):
    from tests.test_llm import Reply

    url, model = with_llm
    monkeypatch.setenv("NEWSDESK_LLM_BASE_URL", model.url)
    monkeypatch.setenv("NEWSDESK_LLM_MODEL", "m")
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=120)
    assert [m.id for m in client.models.list()] == [MODEL, LLM_MODEL]
    model.script(Reply(hasanov_reply), Reply(hasanov_reply))
    question = [{"role": "user", "content": HASANOV}]
    reply = client.chat.completions.create(model=LLM_MODEL, messages=question)
    text, annotations = "", []
    for chunk in client.chat.completions.create(model=LLM_MODEL, messages=question, stream=True):
        text += chunk.choices[0].delta.content or ""
        annotations += (chunk.choices[0].delta.model_extra or {}).get("annotations") or []
    content = reply.choices[0].message.content
    assert reply.model_extra["newsdesk"]["backend"].startswith("llm")
    answer, warning = content.split("\n\nWarning: ")  # the dropped marker is reported after the answer
    assert answer == "At IDEF 2025 Hasanov held a meeting with Haluk Görgün [1]."  # [40] points at no passage
    assert "[40]" in warning
    assert text == content  # the stream sent the checked answer, never the model's draft
    check_hasanov(content, annotations, reply.model_extra["citations"])
    assert len(model.requests) == 2


@pytest.fixture(scope="module")
def login_only(tmp_path_factory):
    """A login and no key: /v1 follows the login rule (a tiny hash-embedded index, no model)."""
    from ui.app import build_app, launch

    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    root = tmp_path_factory.mktemp("v1-login") / "idx"
    write_collection(root, make_articles(3), settings=settings, embedder=HashEmbedder(), progress=False)
    config = Config(index=settings, rerank={"articles": 0})
    assistant = Assistant(IndexStore.load(root), config=config, embedder=HashEmbedder())
    demo = build_app(assistant, private_uploads=False)
    url = launch(demo, port=free_port(), auth=(USER, PASSWORD), prevent_thread_lock=True, quiet=True,
                 api=OpenAIApi(assistant))
    yield url.rstrip("/")
    demo.close()


def test_without_a_key_v1_takes_the_browser_login(login_only):
    refused = httpx.get(f"{login_only}/v1/models", timeout=60)
    assert refused.status_code == 401 and "--api-key-file" in refused.json()["error"]["message"]
    cookies = httpx.post(f"{login_only}/login", data={"username": USER, "password": PASSWORD}, timeout=60).cookies
    assert httpx.get(f"{login_only}/v1/models", cookies=cookies, timeout=60).json()["data"][0]["id"] == MODEL
    foreign = httpx.get(f"{login_only}/v1/models", cookies=cookies, timeout=60,
                        headers={"Host": "evil.example", "Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "error" in foreign.json()


def test_each_citation_spans_the_claim_its_first_marker_closes():
    text = "Ann met Bob. [1] They talked [2][3]; trade grew [1, 2]. Nothing else."
    spans = cited_spans(text)
    assert text[slice(*spans[1])] == "Ann met Bob. [1]"
    assert text[slice(*spans[2])] == "They talked [2]" and text[slice(*spans[3])] == "They talked [2][3]"
    assert cited_spans("A fell [2-4].") == {2: (0, 12), 3: (0, 12), 4: (0, 12)}
    assert "".join(pieces(text)) == text and pieces(text)[0] == "Ann met Bob. [1]"


def test_requests_past_the_waiting_room_get_429():
    limiter = Limiter(concurrency=1, waiting=1)
    limiter.admit()
    limiter.admit()
    with pytest.raises(ApiError) as refused:
        limiter.admit()
    assert refused.value.status == 429 and refused.value.body()["error"]["code"] == "rate_limit_exceeded"
    limiter.leave()
    limiter.admit()  # a place came free
