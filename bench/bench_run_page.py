"""How long the Run page takes to draw a finished seven-stage trace.

The trace is the paper's worked example, the page's own picture when no model
server is up. Each round is a full run of ``pages/run.py`` in one AppTest session
with the model endpoint unreachable (so the page shows the reference trace):
Streamlit re-runs the whole script on every click, so this is what each interaction
costs. The first runs are left out (imports, the store's tables, and AppTest's scan
of installed packages, which a real server does once at start-up). The median is
printed next to the time of building the stage cards alone (the diffs and escaping).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import timeit

from workbench.pipeline import load_reference_trace
from workbench.pipeline.view import stage_cards
from workbench.settings import PROJECT_ROOT

ROUNDS = 20
WARM_UP = 2


def page_render_seconds(rounds: int = ROUNDS) -> list[float]:
    from streamlit.testing.v1 import AppTest

    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "run.py"), default_timeout=120)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        page.run()
        times.append(time.perf_counter() - start)
        if page.exception:
            raise RuntimeError(page.exception[0].value)
        if sum(m.value.startswith('<div class="wb-card-head">') for m in page.markdown) != 8:
            raise RuntimeError("the page did not draw the reference trace's eight cards")
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        os.environ["WORKBENCH_DATA_DIR"] = data
        os.environ["WORKBENCH_BASE_URL"] = "http://127.0.0.1:9/v1"  # nothing listens there
        times = page_render_seconds(WARM_UP + ROUNDS)[WARM_UP:]
    trace = load_reference_trace()
    cards = min(timeit.repeat(lambda: stage_cards(trace.stages), number=50, repeat=5)) / 50
    median = statistics.median(times)
    print(f"Run page, finished 7-stage trace (one script run, median of {len(times)}): "
          f"{median * 1e3:.0f} ms (min {min(times) * 1e3:.0f}, max {max(times) * 1e3:.0f})")  # fmt: skip
    print(f"  of which stage cards (diffs, escaping): {cards * 1e3:.2f} ms ({cards / median:.1%})")


if __name__ == "__main__":
    main()
