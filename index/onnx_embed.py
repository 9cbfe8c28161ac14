"""Int8 ONNX Runtime encoder: about 2x plain PyTorch fp32 on a 2-core AVX2 CPU, same vectors to ~0.99 cosine.

The model is exported locally from the sentence-transformers folder (nothing is downloaded)
with plain ("eager") attention, fused with ONNX Runtime's BERT optimizer (one ``Attention``
node per layer) and its weight matrices quantised to int8 per channel (``reduce_range``
because CPUs without VNNI saturate on full-range u8*s8 products); the attention nodes become
``QAttention``. The attention products between activations stay float: quantising them
costs ~0.05 cosine. The export is cached under ``cache_dir()/onnx/<hash of the model files>``
and takes ~10 s once.

Speed comes from four things measured on the 2-core dev machine (benchmarks/embed_speed.py):
int8 matrix products, the fused int8 attention, batches of texts with the same word-piece
count (no padding to compute) and one single-threaded session per core working on
different batches, which beats one session splitting each small product across threads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from index.cache import cache_dir

_TOKENIZE_SLICE = 256  # texts tokenised per hold of the shared tokenizer lock
BATCH_SIZE = 8  # texts per forward pass (see OnnxInt8Encoder)
EXPORT_VERSION = 2  # bump when the export recipe changes: old cached exports are then ignored
_MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "modules.json",
                "1_Pooling/config.json", "tokenizer.json", "vocab.txt")


def _fingerprint(model_dir: Path) -> str:
    h = hashlib.sha256(f"export-v{EXPORT_VERSION}".encode())
    for name in _MODEL_FILES:
        f = model_dir / name
        if f.exists():
            h.update(name.encode())
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def export_folder(model_dir: str | Path, export_dir: Path | None = None) -> Path:
    """Where the int8 export of ``model_dir`` is cached: named by a hash of the model's files,
    so two machines with the same model files agree on the name."""
    model_dir = Path(model_dir)
    return (export_dir or cache_dir() / "onnx") / f"{model_dir.name}-{_fingerprint(model_dir)}"


def pooling_of(st) -> tuple[str, bool]:  # noqa: ANN001 - a SentenceTransformer
    """(``mean`` or ``cls``, normalises?) for a Transformer -> Pooling [-> Normalize] model.

    Raises:
        ValueError: the model has other modules; use ``backend="torch"`` for it.
    """
    kinds = [type(m).__name__ for m in st]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ValueError(f"The onnx-int8 backend supports Transformer + Pooling models, not {kinds}; "
                         "use backend='torch' (newsdesk index build --backend torch).")
    pool = st[1]
    mode = getattr(pool, "pooling_mode", None) or (
        "mean" if pool.pooling_mode_mean_tokens else "cls" if pool.pooling_mode_cls_token else "other")
    if mode not in ("mean", "cls"):
        raise ValueError(f"The onnx-int8 backend supports mean or CLS pooling, not {mode!r}; use backend='torch'.")
    return mode, "Normalize" in kinds


@contextlib.contextmanager
def _quiet_root_logger():  # noqa: ANN202
    """ORT's quantiser warns through the root logger; on a handler-less root that call would
    install a stderr handler for the rest of the process (then bm25s' debug lines print too)."""
    root = logging.getLogger()
    guard = None if root.handlers else logging.NullHandler()
    if guard:
        root.addHandler(guard)
    try:
        yield
    finally:
        if guard:
            root.removeHandler(guard)


@contextlib.contextmanager
def _eager_attention(model):  # noqa: ANN001, ANN202 - a transformers PreTrainedModel
    """Export the plain attention graph (not PyTorch's fused SDPA): ORT's BERT optimizer fuses
    it into one Attention node, which the quantiser turns into ``QAttention`` with an int8
    QKV projection (about 10% faster on the dev machine, same vectors)."""
    before = getattr(model.config, "_attn_implementation", None)
    setter = getattr(model, "set_attn_implementation", None)
    if before is None or before == "eager" or setter is None:
        yield
        return
    setter("eager")
    try:
        yield
    finally:
        setter(before)


def export_int8(st, model_dir: Path, out_dir: Path) -> Path:  # noqa: ANN001 - a SentenceTransformer
    """Export ``st``'s transformer to an optimised int8 ONNX file in ``out_dir`` (atomically)."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    hf = st[0].auto_model
    config = hf.config

    class _Encoder(torch.nn.Module):  # keyword call: the positional order differs across versions
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=".export-"))
    try:
        sample = st.tokenizer(["a short one", "a somewhat longer second sentence"], padding=True,
                              return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        args = tuple(sample.get(n, torch.zeros_like(sample["input_ids"])) for n in names)
        with warnings.catch_warnings(), _quiet_root_logger(), _eager_attention(hf):
            warnings.simplefilter("ignore")
            # The TorchScript exporter handles padded batches exactly (cosine 1.0 to torch).
            torch.onnx.export(
                _Encoder(hf.eval()), args, str(tmp / "fp32.onnx"), input_names=names,
                output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            )
            fused = optimize_model(str(tmp / "fp32.onnx"), model_type="bert", opt_level=1,
                                   num_heads=config.num_attention_heads, hidden_size=config.hidden_size)
            fused.save_model_to_file(str(tmp / "fused.onnx"))
            quantize_dynamic(str(tmp / "fused.onnx"), str(tmp / "model.onnx"), weight_type=QuantType.QInt8,
                             per_channel=True, reduce_range=True,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        (tmp / "fp32.onnx").unlink()
        (tmp / "fused.onnx").unlink()
        (tmp / "export.json").write_text(json.dumps({"source": str(model_dir), "version": EXPORT_VERSION}))
        try:
            tmp.rename(out_dir)
        except OSError:  # another process finished the same export first
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / "model.onnx"


def export_in_child(model_dir: Path, out_dir: Path) -> Path:
    """:func:`export_int8` in a child process, whose memory goes back to the system when it
    exits: the export holds the fp32 graph, the fused one and the quantiser's copies at once
    (about 1 GB on top of the model), which would otherwise stay the server's peak for good.

    Raises:
        RuntimeError: the export failed; the message ends with the child's last error line.
    """
    root = str(Path(__file__).resolve().parents[1])  # so the child imports this very package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "index.onnx_embed", str(model_dir), str(out_dir)], env=env,
                          capture_output=True, text=True)
    path = out_dir / "model.onnx"
    if done.returncode != 0 or not path.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"exporting {model_dir} to ONNX failed (exit {done.returncode}): {last}")
    return path


def _export_main(model_dir: str, out_dir: str) -> None:
    """The child's side of :func:`export_in_child`: load the model offline (the parent's
    ``HF_HUB_OFFLINE`` and friends, set by :mod:`index.embed`, are inherited) and export it."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
    export_int8(st, Path(model_dir), Path(out_dir))


def _json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def folder_spec(model_dir: Path) -> dict | None:
    """What :class:`OnnxInt8Encoder` needs to know of a sentence-transformers folder, read from
    its config files (the same ones sentence-transformers reads); None when they leave any of it
    open, so the caller loads the model instead. Keys: tokenizer (path), pooling, normalize,
    max_seq_length, dimension, pad_token."""
    modules, tokenizer = _json(model_dir / "modules.json"), model_dir / "tokenizer.json"
    st_config = _json(model_dir / "sentence_bert_config.json") or {}
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules) or not tokenizer.is_file() \
            or not isinstance(st_config, dict) or st_config.get("do_lower_case"):
        return None
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        return None
    if modules[0].get("path") or not isinstance(st_config.get("max_seq_length"), int):
        return None  # a transformer in a subfolder, or a length left to the model's config
    pool = _json(model_dir / modules[1].get("path", "") / "config.json") or {}
    modes = [m for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                         "lasttoken") if pool.get(f"pooling_mode_{m}")]
    if modes not in (["cls_token"], ["mean_tokens"]) or not isinstance(pool.get("word_embedding_dimension"), int):
        return None
    special = _json(model_dir / "special_tokens_map.json") or _json(model_dir / "tokenizer_config.json") or {}
    pad = special.get("pad_token")
    return {"tokenizer": tokenizer, "pooling": "cls" if modes == ["cls_token"] else "mean",
            "normalize": "Normalize" in kinds, "max_seq_length": st_config["max_seq_length"],
            "dimension": pool["word_embedding_dimension"], "pad_token": pad.get("content") if isinstance(pad, dict)
            else pad}


class OnnxInt8Encoder:
    """Encodes texts with the int8 export of a sentence-transformers model.

    Make one with :meth:`from_folder` (reads the model's small config files and its
    ``tokenizer.json``: no PyTorch, which takes seconds to import) or, for a model those files
    do not describe, :meth:`from_sentence_transformer`.

    Args:
        model_dir: the folder the model is in (hashed to find the cached export).
        encode_ids: word-piece ids of each text, truncated to ``max_seq_length``, unpadded.
        count_ids: the same, untruncated (what the model would need).
        pooling: ``mean`` or ``cls``; normalize: whether vectors are L2-normalised.
        dimension: length of a vector; pad_id: the id padding is filled with.
        threads: sessions run side by side, one thread each; default: all cores.
        batch_size: texts per forward pass; batches of texts with the same word-piece count pad (almost) nothing.
        tokenizer_lock: held around every tokenizer call. A transformers fast tokenizer keeps
            its padding and truncation as shared state that each call sets and then resets, so
            calls from several threads must not overlap (unpadded batches come out otherwise).
            Share it with anything else that calls the same tokenizer.
    """

    def __init__(self, model_dir: str | Path, *, encode_ids: Callable[[list[str]], list[list[int]]],
                 count_ids: Callable[[list[str]], list[list[int]]], pooling: str, normalize: bool,
                 dimension: int, pad_id: int, threads: int | None = None, batch_size: int = BATCH_SIZE,
                 export_dir: Path | None = None, tokenizer_lock: threading.Lock | None = None) -> None:
        import onnxruntime as ort

        self._encode_ids, self._count_ids = encode_ids, count_ids
        self.pooling, self.normalize = pooling, normalize
        self.tokenizer_lock = tokenizer_lock or threading.Lock()
        self.dimension = dimension
        self.batch_size = batch_size
        folder = export_folder(model_dir, export_dir)
        path = folder / "model.onnx"
        if not path.exists():
            path = export_in_child(Path(model_dir), folder)
        self.threads = threads or os.cpu_count() or 1
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._sessions = [ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                          for _ in range(self.threads)]
        self._inputs = {i.name for i in self._sessions[0].get_inputs()}
        self._pad_id = pad_id

    @classmethod
    def from_sentence_transformer(cls, st, model_dir: str | Path, **kw) -> OnnxInt8Encoder:  # noqa: ANN001
        """The encoder for a loaded SentenceTransformer ``st`` (tokenizer, pooling, length)."""
        pooling, normalize = pooling_of(st)
        tok, limit = st.tokenizer, st.max_seq_length
        return cls(model_dir, encode_ids=lambda t: tok(t, truncation=True, max_length=limit)["input_ids"],
                   count_ids=lambda t: tok(t, add_special_tokens=True, truncation=False)["input_ids"],
                   pooling=pooling, normalize=normalize, dimension=int(st.get_embedding_dimension()),
                   pad_id=tok.pad_token_id or 0, **kw)

    @classmethod
    def from_folder(cls, model_dir: str | Path, *, max_seq_length: int, **kw) -> OnnxInt8Encoder | None:
        """The encoder for the model in ``model_dir`` read from its files alone, exactly as
        sentence-transformers would run it; None when the files do not say all of it (no
        ``tokenizer.json``, lower-casing done by sentence-transformers, a module other than
        Transformer + Pooling [+ Normalize], a pooling other than plain mean or CLS).

        Args:
            max_seq_length: word pieces read at most (the model's own limit, if lower, wins).
        """
        spec = folder_spec(Path(model_dir))
        if spec is None:
            return None
        from tokenizers import Tokenizer

        limit = min(max_seq_length, spec["max_seq_length"])
        # tokenizer.json may carry padding and truncation (MiniLM's: fixed 128); transformers
        # sets both on every call, so here they are set once, on two copies.
        truncating = Tokenizer.from_file(str(spec["tokenizer"]))
        truncating.no_padding()
        truncating.enable_truncation(max_length=limit)
        counting = Tokenizer.from_file(str(spec["tokenizer"]))
        counting.no_padding()
        counting.no_truncation()
        pad = spec["pad_token"]
        pad_id = (truncating.token_to_id(pad) if pad else None) or 0
        return cls(model_dir, encode_ids=lambda t: [e.ids for e in truncating.encode_batch(t)],
                   count_ids=lambda t: [e.ids for e in counting.encode_batch(t)],
                   pooling=spec["pooling"], normalize=spec["normalize"], dimension=spec["dimension"],
                   pad_id=pad_id, **kw)

    def count_wordpieces(self, texts: list[str]) -> list[int]:
        """Word pieces per text including [CLS]/[SEP], untruncated."""
        with self.tokenizer_lock:
            return [len(ids) for ids in self._count_ids(list(texts))]

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids of each text (truncated, unpadded); the lock is held per slice so
        queries embedded meanwhile wait at most one slice."""
        ids: list[list[int]] = []
        for i in range(0, len(texts), _TOKENIZE_SLICE):
            with self.tokenizer_lock:
                ids += self._encode_ids(texts[i:i + _TOKENIZE_SLICE])
        return ids

    def _batch(self, session, ids: list[list[int]]) -> np.ndarray:  # noqa: ANN001
        width = max(len(x) for x in ids)
        input_ids = np.full((len(ids), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, x in enumerate(ids):
            input_ids[row, :len(x)] = x
            mask[row, :len(x)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        if self.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            vectors = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        if self.normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        ids = self._tokenize(texts)
        # Sorted by word-piece count, a batch pads almost nothing (by characters it padded 9%).
        order = np.argsort([-len(x) for x in ids], kind="stable")
        batches = [order[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        bar = tqdm(total=len(texts), desc="Embedding", unit="chunk", disable=not progress)

        free: queue.SimpleQueue = queue.SimpleQueue()  # a session is used by one thread at a time
        for session in self._sessions:
            free.put(session)

        def work(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            session = free.get()
            try:
                return rows, self._batch(session, [ids[j] for j in rows])
            finally:
                free.put(session)

        with ThreadPoolExecutor(self.threads) as pool:
            for rows, vectors in pool.map(work, batches):
                out[rows] = vectors
                bar.update(len(rows))
        bar.close()
        return out


if __name__ == "__main__":  # python -m index.onnx_embed MODEL_DIR OUT_DIR (see export_in_child)
    _export_main(sys.argv[1], sys.argv[2])
