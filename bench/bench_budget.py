"""How long the budget of every shipped stage prompt takes: target under 50 ms.

Run: ``python -m bench budget`` (or ``python -m bench.bench_budget``). The
first call loads the Qwen vocabulary (reported separately as the cold start);
the target applies to a warm meter, which is what the editor pays on every
keystroke.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from workbench.prompts import budget_paths
from workbench.prompts.budget import prompt_files
from workbench.settings import load_settings

TARGET_S = 0.050
RUNS = 30


def _stand_in_prompts(folder: Path) -> Path:
    """Six prompts of a realistic size, for a checkout without shipped prompts."""
    for stage in range(6):
        lines = [f"---\nid: stage{stage}\nmode: gated\n---\nYou rewrite one question.\n"]
        for task in range(3):
            lines.append(f"\n## Task {task}\n")
            lines.extend(
                f"- Rule {task}.{r}: rewrite {{{{as_of}}}} phrases as ISO dates.\n"
                for r in range(8)
            )
            lines.append("\n```text\nInput: abnormal CBC results this quarter\nOutput: ...\n```\n")
        (folder / f"{stage:02d}_stage.md").write_text("".join(lines))
    return folder


def main() -> None:
    folder = load_settings().prompts_dir
    note = f"shipped prompts in {folder}"
    with tempfile.TemporaryDirectory() as scratch:
        if not folder.is_dir() or not prompt_files([folder]):
            folder = _stand_in_prompts(Path(scratch))
            note = "no shipped prompts found: six stand-in prompts of 3 tasks x 8 rules"
        start = time.perf_counter()
        budgets = budget_paths([folder])
        cold = time.perf_counter() - start
        timings = []
        for _ in range(RUNS):
            start = time.perf_counter()
            budget_paths([folder])
            timings.append(time.perf_counter() - start)
    median = statistics.median(timings)
    tokens = sum(b.measures.tokens for b in budgets if b.measures)
    print(f"budget of {len(budgets)} prompts ({tokens} tokens; {note})")
    print(f"  cold (loads the vocabulary): {cold * 1000:.1f} ms")
    print(f"  warm median of {RUNS}: {median * 1000:.2f} ms, best {min(timings) * 1000:.2f} ms")
    print(
        f"  ratio to the 50 ms target: {median / TARGET_S:.3f} ({'met' if median < TARGET_S else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
