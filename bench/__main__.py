"""``python -m bench``: run every ``bench/bench_*.py`` module's ``main()`` in turn."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def bench_modules() -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        f"bench.{m.name}"
        for m in pkgutil.iter_modules([str(folder)])
        if m.name.startswith("bench_")
    )


def run(names: list[str]) -> int:
    failures = 0
    for name in names:
        print(f"== {name}", flush=True)
        try:
            importlib.import_module(name).main()
        except Exception as exc:  # one broken benchmark must not hide the others
            print(f"{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    wanted = sys.argv[1:]
    names = [n for n in bench_modules() if not wanted or any(w in n for w in wanted)]
    raise SystemExit(run(names))
