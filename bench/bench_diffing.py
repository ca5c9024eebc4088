"""How long the Run page spends diffing and rendering a finished trace.

A trace here is the paper's worked example: the question, six stage outputs
and the narrative answer, giving seven diffs (each stage against its input,
the answer against the question). Times are the best of several rounds in one
process; the ratios compare against other work measured in the same run, so
they hold across machines better than the absolute numbers.
"""

from __future__ import annotations

import difflib
import timeit
from collections.abc import Callable
from pathlib import Path

from rapidfuzz.distance import Indel

from workbench.diffing import line_diff_html, render_html, tokenize, word_diff

PAPER = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "diffing" / "paper"


def trace_pairs(scale: int = 1) -> list[tuple[str, str]]:
    """The seven (input, output) texts of the paper's trace, each repeated ``scale`` times."""
    stages = [(PAPER / f"stage{n}.txt").read_text(encoding="utf-8") * scale for n in range(7)]
    narrative = (PAPER / "narrative.txt").read_text(encoding="utf-8") * scale
    return [*zip(stages, stages[1:], strict=False), (stages[0], narrative)]


def best_seconds(work: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best time of one call, over ``repeat`` rounds of ``number`` calls."""
    return min(timeit.repeat(work, number=number, repeat=repeat)) / number


def diff_and_render(pairs: list[tuple[str, str]]) -> None:
    for before, after in pairs:
        render_html(word_diff(before, after))


def word_lists(pairs: list[tuple[str, str]]) -> list[tuple[list[str], list[str]]]:
    return [
        ([t for t in tokenize(a) if not t.isspace()], [t for t in tokenize(b) if not t.isspace()])
        for a, b in pairs
    ]


def rapidfuzz_opcodes(lists: list[tuple[list[str], list[str]]]) -> None:
    for words_b, words_a in lists:
        Indel.opcodes(words_b, words_a)


def difflib_opcodes(lists: list[tuple[list[str], list[str]]]) -> None:
    """The standard library's opcodes over the same word tokens, for comparison."""
    for words_b, words_a in lists:
        difflib.SequenceMatcher(None, words_b, words_a, autojunk=False).get_opcodes()


def prompt_versions(lines: int = 200) -> tuple[str, str]:
    """A prompt-sized text and a version with every tenth line reworded."""
    old = [
        f"Rule {n}: rewrite relative dates like 'this quarter' as ISO ranges." for n in range(lines)
    ]
    new = [line.replace("relative", "vague") if n % 10 == 0 else line for n, line in enumerate(old)]
    return "\n".join(old), "\n".join(new)


def measure(scale: int, number: int) -> None:
    pairs = trace_pairs(scale)
    lists = word_lists(pairs)
    whole = best_seconds(lambda: diff_and_render(pairs), number)
    tokens = best_seconds(lambda: word_lists(pairs), number)
    fast = best_seconds(lambda: rapidfuzz_opcodes(lists), number)
    slow = best_seconds(lambda: difflib_opcodes(lists), number)
    count = sum(len(tokenize(a)) + len(tokenize(b)) for a, b in pairs)
    print(f"trace x{scale}: {len(pairs)} diffs, {count} tokens")
    print(f"  diff + render, whole trace  {whole * 1e3:8.3f} ms")
    print(f"  of which tokenizing         {tokens * 1e3:8.3f} ms ({tokens / whole:.0%})")
    print(f"  of which Indel opcodes      {fast * 1e3:8.3f} ms ({fast / whole:.0%})")
    print(f"  difflib opcodes instead     {slow * 1e3:8.3f} ms ({slow / fast:.0f}x Indel)")


def main() -> None:
    measure(scale=1, number=200)
    long_whole = best_seconds(lambda: diff_and_render(trace_pairs(10)), number=20)
    whole = best_seconds(lambda: diff_and_render(trace_pairs(1)), number=200)
    print(f"texts ten times longer: diff + render takes {long_whole / whole:.1f}x as long")
    measure(scale=10, number=20)
    old, new = prompt_versions()
    prompt = best_seconds(lambda: line_diff_html(old, new), number=50)
    print(f"prompt line diff (200 lines, 20 changed): {prompt * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
