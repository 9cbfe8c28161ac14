"""Search through Milvus beside the index folder's FAISS + bm25s, on the dev index and on 1M vectors.

Part 1, the dev index: the engine is synced from the folder (ingest chunks/s), then the
dev questions are searched one at a time, as a user's search runs, through both backends'
``ChunkSearch`` (dense top-200 and BM25 top-200, what the retriever asks for) and through
``Assistant.search`` end to end; the overlap of the two backends' hits is reported too.

Part 2, 1M synthetic vectors made as ``benchmarks/dense_scale.py`` makes them (real chunk
vectors plus noise): inserted into a dense-only Milvus collection with the IVF index a
build would choose in FAISS at that size, against FAISS itself, recall@10 against exact
search, one query at a time. Milvus Lite builds only FLAT and IVF_FLAT indexes (a Milvus
server also HNSW, IVF_SQ8, DiskANN...), so it runs IVF_FLAT with the same lists and probes.

    python benchmarks/engine_scale.py --index /tmp/nd/dev-index \\
        --questions ../shared/data/realtimeqa-2023q1/questions.jsonl --work /tmp/nd/engine-bench \\
        --out benchmarks/results/engine_scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import time
from pathlib import Path

import faiss
import numpy as np
from dense_scale import recall_at_10, seed_vectors, synthetic

from index.backend import LocalBackend, sync_live
from index.build import choose_factory
from index.embed import Embedder
from index.filters import Filters
from index.milvus import MilvusBackend
from index.settings import IVF_NPROBE
from index.store import IndexStore
from index.tokenize import terms

CANDIDATES = 200  # what the retriever asks each search for (Config.candidates)


def percentiles(ms: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def timed(fn, items) -> tuple[list, list[float]]:  # noqa: ANN001 - a search and its inputs
    out, ms = [], []
    for item in items:
        t = time.perf_counter()
        out.append(fn(item))
        ms.append((time.perf_counter() - t) * 1000)
    return out, ms


def concurrent_qps(search, queries: np.ndarray, clients: int = 4, seconds: float = 10.0) -> float:  # noqa: ANN001
    """Queries per second with ``clients`` threads searching at once for ``seconds``: the
    throughput of this machine's cores, which a sizing table divides per core."""
    from concurrent.futures import ThreadPoolExecutor

    stop = time.perf_counter() + seconds

    def run(offset: int) -> int:
        done = 0
        while time.perf_counter() < stop:
            search(queries[(offset + done) % len(queries)])
            done += 1
        return done

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(run, range(0, clients * 50, 50)))
    return round(total / (time.perf_counter() - t0), 1)


def engine_rss_mb(backend: MilvusBackend) -> float | None:
    """Resident memory of the Milvus Lite process this client started (None for a server)."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if cmd and cmd[0].endswith(b"/milvus") and backend.uri.encode() in b" ".join(cmd):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            return round(int(line.split()[1]) / 1024, 1)
            except OSError:
                continue
    return None


def dev_part(index_dir: str, questions: list[str], work: Path) -> dict:
    from rag import Assistant

    store = IndexStore.load(index_dir, verify=False)
    engine = MilvusBackend(f"milvus-lite://{work}/dev.db?collection=dev")
    engine.drop()
    empty_mb = engine_rss_mb(engine)
    sync = sync_live(engine, index_dir)
    embedder = Embedder(store.manifest["model"])
    vectors = embedder.embed(questions)
    tokens = [terms(q) for q in questions]
    f = Filters()
    out: dict = {"chunks": len(store), "articles": len(store.articles),
                 "ingest": {"seconds": round(sync.seconds, 1), "chunks_per_s": round(sync.chunks / sync.seconds)},
                 "engine_rss_empty_mb": empty_mb, "engine_rss_mb": engine_rss_mb(engine)}
    hits = {}
    for name, search in (("faiss+bm25s", LocalBackend().searcher(store)), ("milvus", engine.searcher(store))):
        dense, dense_ms = timed(lambda v, s=search: s.dense(v, CANDIDATES, f), vectors)
        sparse, sparse_ms = timed(lambda t, s=search: s.sparse(t, CANDIDATES, f), tokens)
        hits[name] = (dense, sparse)
        out[name] = {"dense_top200": percentiles(dense_ms), "bm25_top200": percentiles(sparse_ms)}
    # How alike the two backends' candidates are (ties may order differently).
    for kind, i in (("dense", 0), ("bm25", 1)):
        same = [len({h.row for h in a[:10]} & {h.row for h in b[:10]}) / max(1, min(10, len(a)))
                for a, b in zip(hits["faiss+bm25s"][i], hits["milvus"][i])]
        out[f"{kind}_top10_overlap"] = round(float(np.mean(same)), 4)
    local = Assistant.from_index(index_dir, progress=False)
    remote = local.with_config(engine=engine.url)
    for name, assistant in (("faiss+bm25s", local), ("milvus", remote)):
        assistant.search(questions[0], k=10)  # warm
        _, ms = timed(lambda q, a=assistant: a.search(q, k=10), questions)
        out[name]["assistant_search_k10"] = percentiles(ms)
    engine.close()
    return out


def scale_part(base: np.ndarray, queries: np.ndarray, n: int, work: Path) -> dict:
    from pymilvus import DataType, MilvusClient

    rng = np.random.default_rng(0)
    vectors = synthetic(base, n, rng)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    del exact
    factory = choose_factory(n)
    nlist = int(factory[3:].split(",")[0]) if factory.startswith("IVF") else 0
    rows = []

    t0 = time.perf_counter()
    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(vectors[np.random.default_rng(1).choice(n, min(n, 100_000), replace=False)])
        faiss.extract_index_ivf(index).nprobe = IVF_NPROBE
    index.add(vectors)
    build_s = time.perf_counter() - t0
    found, ms = timed(lambda q, ix=index: ix.search(q[None, :], 10)[1][0], queries)
    qps = concurrent_qps(lambda q, ix=index: ix.search(q[None, :], 10), queries)
    rows.append({"engine": "faiss", "index": f"{factory} nprobe={IVF_NPROBE}", "build_s": round(build_s, 1),
                 **percentiles(ms), "recall@10": round(recall_at_10(np.array(found), truth), 3),
                 "qps_4_clients": qps, "index_mb": round(faiss.serialize_index(index).nbytes / 2**20)})
    del index

    engine = MilvusBackend(f"milvus-lite://{work}/scale.db")
    client: MilvusClient = engine.client
    name = "scale"
    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
    kind = "IVF_FLAT" if nlist else "FLAT"  # Milvus Lite builds FLAT, IVF_FLAT and AUTOINDEX only
    params = client.prepare_index_params()
    params.add_index("dense", index_type=kind, metric_type="IP", params={"nlist": nlist} if nlist else {})
    client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")
    t0 = time.perf_counter()
    step = 512  # rows per insert: Milvus Lite took 10,500 vectors/s in 512-row calls, 184 in 5,000-row ones
    rates = []  # vectors/s per batch: Milvus Lite's ingest slows as the collection grows
    for lo in range(0, n, step):
        t = time.perf_counter()
        client.insert(name, [{"id": i, "dense": vectors[i].tolist()} for i in range(lo, min(n, lo + step))])
        rates.append(round(step / (time.perf_counter() - t)))
        if lo % 100_000 < step:
            print(f"inserted {lo + step:,}: {rates[-1]:,} vectors/s", flush=True)
    client.flush(name)
    insert_s = time.perf_counter() - t0
    client.load_collection(name)
    load_s = time.perf_counter() - t0 - insert_s
    search_params = {"metric_type": "IP", "params": {"nprobe": IVF_NPROBE}}
    client.search(name, data=[queries[0].tolist()], anns_field="dense", limit=10, search_params=search_params)
    found, ms = timed(lambda q: [h["id"] for h in client.search(name, data=[q.tolist()], anns_field="dense", limit=10,
                                                               search_params=search_params)[0]], queries)
    qps = concurrent_qps(lambda q: client.search(name, data=[q.tolist()], anns_field="dense", limit=10,
                                                 search_params=search_params), queries)
    rows.append({"engine": "milvus-lite 2.5.1", "index": f"{kind} nlist={nlist} nprobe={IVF_NPROBE}",
                 "build_s": round(insert_s + load_s, 1), "insert_per_s": round(n / insert_s),
                 "insert_per_s_first_last_batch": [rates[0], rates[-1]],
                 **percentiles(ms), "recall@10": round(recall_at_10(np.array(found), truth), 3),
                 "qps_4_clients": qps, "engine_rss_mb": engine_rss_mb(engine)})
    client.drop_collection(name)
    engine.close()
    return {"vectors": n, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="a built index (the dev collection)")
    parser.add_argument("--questions", required=True, help="JSONL with a 'question' field per line")
    parser.add_argument("--work", required=True, help="scratch folder for the engine's files (emptied)")
    parser.add_argument("--size", type=int, default=1_000_000, help="synthetic vectors for part 2")
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    questions = [json.loads(line)["question"] for line in open(args.questions, encoding="utf-8")]
    result = {"machine": {"cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%S")}}
    result["dev"] = dev_part(args.index, questions, work)
    print(json.dumps(result["dev"], indent=2), flush=True)
    base, model = seed_vectors(args.index)
    queries = Embedder(model).embed(questions)
    result["scale"] = scale_part(base, queries, args.size, work)
    result["peak_rss_mb_client"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result["scale"], indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
