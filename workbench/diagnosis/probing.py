"""Edit blame for real: each probe a quick check of the flipped cases with some hunks.

A probe writes the baseline's prompt texts with only the probe's hunks applied to a
folder of its own, loads it, and runs each flipped case once against the baseline as a
quick check does (``workbench.smoke.repeat``): the baseline's answers reused for every
stage whose request is unchanged, the narrative left out. Probes are not smoke runs:
nothing is added to the run list; each probe's pipeline runs are saved as traces (as a
Run page run is) and its fresh answers go to the stage cache as any fresh answer does.

Fresh answers are reused across probes: when a later probe sends a request an earlier
probe already sent (a stage whose prompt and input are the same under both subsets), it
gets that probe's answer instead of asking again. That is the quick check's own bet,
that a request answers the same twice, and it makes each probe a function of its
subset, which ddmin assumes. The run being blamed lends none of its answers: the first
probe, every hunk applied, asks afresh, so that a flip that does not recur is noise.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import Engine

from workbench.cases.suite import SmokeCase
from workbench.diagnosis.blame import DEFAULT_BUDGET, BlameResult, blame, estimate_probes
from workbench.diagnosis.hunks import Hunk, apply_hunks, edit_hunks
from workbench.diagnosis.prompttexts import check_rebuilt, run_prompt_texts, write_prompt_set
from workbench.errors import ConfigError, PromptError, StoreError, WorkbenchError
from workbench.llm import Completion
from workbench.pipeline import RunEnvironment, StageCache, Trace, answer_digest
from workbench.prompts import PromptSet
from workbench.smoke.baseline import CaseReplay, case_replay, quick_skip
from workbench.smoke.compare import compare_smoke_runs
from workbench.smoke.repeat import SuiteContext, run_repeat
from workbench.smoke.results import RunRecord
from workbench.sql import GoldCache, Variant

BLAMED = ("new failure", "fixed")
"""The changes blame explains: a case that passed and now does not, or the other way."""

UNRESOLVED = "unresolved"
"""A probe's verdict when its hunks alone do not make a valid prompt set."""

Say = Callable[[str], None]


@dataclass(frozen=True)
class EditBlame:
    """What blame found for two runs: the hunks of the edit between them, and per case."""

    baseline_id: str
    run_id: str
    hunks: tuple[Hunk, ...]
    result: BlameResult

    def hunks_of(self, case_id: str) -> tuple[Hunk, ...]:
        chosen = set(self.result.cases[case_id].hunks)
        return tuple(h for h in self.hunks if h.id in chosen)

    def to_dict(self) -> dict[str, object]:
        return {
            "baseline": self.baseline_id,
            "run": self.run_id,
            "probes": self.result.probes,
            "budget": self.result.budget,
            "estimate": self.result.estimate,
            "hunks_in_edit": len(self.hunks),
            "cases": {
                case_id: {
                    "change": found.change,
                    "status": found.status,
                    "hunks": [h.to_dict() for h in self.hunks_of(case_id)],
                }
                for case_id, found in self.result.cases.items()
            },
        }


def flipped_cases(baseline: RunRecord, record: RunRecord) -> dict[str, str]:
    """Case id -> ``new failure`` or ``fixed`` for every case the edit flipped."""
    comparison = compare_smoke_runs(baseline, record)
    return {c.case_id: c.change for c in comparison.cases if c.change in BLAMED}


@dataclass
class Prober:
    """The probe ``blame`` calls: one quick check of some cases with some hunks applied.

    Args:
        env: the environment of the run, its database open; its prompts are replaced.
        old: the baseline's prompt texts by file name.
        template: the prompts folder whose other files (gates, budget, banks) probes use.
        workdir: where each probe's prompts folder is written.
    """

    env: RunEnvironment
    baseline: RunRecord
    cases: Mapping[str, SmokeCase]
    old: Mapping[str, str]
    hunks: tuple[Hunk, ...]
    template: Path
    workdir: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    fresh: dict[str, Completion] = field(default_factory=dict)
    golds: GoldCache = field(default_factory=GoldCache)
    variants: tuple[Variant, ...] | None = None
    probes: int = 0
    replays: dict[str, CaseReplay] = field(default_factory=dict)
    """Per case: the baseline's answers, read from the store once for every probe."""

    def prompts_with(self, subset: frozenset[int]) -> PromptSet:
        self.probes += 1
        texts = apply_hunks(self.old, self.hunks, subset)
        return write_prompt_set(texts, self.template, self.workdir / f"probe-{self.probes}")

    def __call__(self, subset: frozenset[int], case_ids: frozenset[str]) -> dict[str, str]:
        try:
            prompts = self.prompts_with(subset)
        except PromptError:
            # Some hunks need others (a variable declared in the front matter by one, used
            # in the body by another): ddmin's "unresolved", which never counts as a flip.
            return dict.fromkeys(case_ids, UNRESOLVED)
        env = replace(self.env, prompts=prompts)
        ctx = SuiteContext(
            env, self.cancel, baseline=self.baseline, variants=self.variants, golds=self.golds
        )  # fmt: skip  (gold results and variants: once)
        verdicts = {
            case_id: self._verdict(self.cases[case_id], ctx) for case_id in sorted(case_ids)
        }
        self.variants = ctx.variants
        return verdicts

    def _verdict(self, case: SmokeCase, ctx: SuiteContext) -> str:
        """The case once, as a quick check runs it, with earlier probes' answers too."""
        if case.id not in self.replays:
            self.replays[case.id] = case_replay(ctx.store, self.baseline, case, ctx.env.prompts)
        replay = self.replays[case.id].replay  # what it skips follows this probe's prompts
        answers = {**self.fresh, **replay.answers}
        skip = quick_skip(ctx.env.prompts, case)
        ran = run_repeat(case, ctx, replace(replay, answers=answers, skip=skip))
        if ran is None:
            raise WorkbenchError("blame was cancelled")
        outcome, trace = ran
        self._remember(ctx.store, trace)
        return outcome.verdict

    def _remember(self, store: Engine, trace: Trace) -> None:
        """Keep the answers this probe got afresh (the stage cache holds each one)."""
        cache = StageCache(store)
        for stage in trace.stages:
            key = stage.request_key
            if not key or stage.reused_from is not None or stage.error or key in self.fresh:
                continue
            try:
                completion = cache.entry(key)
            except StoreError:
                continue
            if completion is not None and answer_digest(completion) == stage.answer_digest:
                self.fresh[key] = completion


def blame_edit(
    env: RunEnvironment,
    baseline: RunRecord,
    record: RunRecord,
    cases: Mapping[str, SmokeCase],
    *,
    budget: int = DEFAULT_BUDGET,
    say: Say = lambda _: None,
) -> EditBlame:
    """Blame each case ``record`` flipped against ``baseline`` on hunks of the edit between
    their prompt sets; ``env`` is set up as for a quick check against ``baseline`` (its
    prompts: the folder whose other files the probes use).

    Raises:
        ConfigError: a run's prompt texts cannot be found or rebuilt, or they are the same.
    """
    store = env.store
    if store is None:
        raise ConfigError("blame needs the store: the runs and their answers are there")
    flips = {c: change for c, change in flipped_cases(baseline, record).items() if c in cases}
    old = run_prompt_texts(store, baseline, env.prompts)
    new = run_prompt_texts(store, record, env.prompts)
    hunks = tuple(edit_hunks(old, new))
    if flips and not hunks:
        raise ConfigError(
            f"runs {baseline.id} and {record.id} used the same prompt texts: their flips are "
            "not the edit's doing (hunt flakes to see how steady these cases are)"
        )
    with tempfile.TemporaryDirectory(prefix="workbench-blame-") as workdir:
        template = env.prompts.directory
        check_rebuilt(write_prompt_set(old, template, Path(workdir) / "before"), baseline,
                      "baseline")  # fmt: skip
        check_rebuilt(write_prompt_set(new, template, Path(workdir) / "after"), record, "run")
        expected, worst = estimate_probes(len(hunks), len(flips))
        if flips:
            say(
                f"blame: {len(flips)} flipped cases, {len(hunks)} hunks in the edit: about "
                f"{expected} probes (at most {worst}; budget {budget}), each a quick check of "
                "the cases still searching"
            )
        prober = Prober(env.with_database(), baseline, cases, old, hunks, template, Path(workdir))
        result = blame([h.id for h in hunks], flips, prober, budget)
    return EditBlame(baseline.id, record.id, hunks, result)
