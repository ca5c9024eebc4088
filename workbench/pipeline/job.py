"""Pipeline runs in a background thread, so a page can show each stage as it finishes.

A Streamlit page re-runs its script from the top on every interaction, while a run
takes seconds to minutes. A ``RunJob`` owns one thread that calls ``run_pipeline``
with an ``on_stage`` callback and a cancel ``Event``; the page keeps the job in its
session and polls ``snapshot()``, a frozen copy taken under a lock. The thread never
touches the page.

Cancelling is cooperative: the stage in flight finishes, every later stage is
recorded as cancelled, and the partial trace is stored like any other run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy.engine import Engine

from workbench.background import BackgroundJob
from workbench.llm import LLM, make_llm
from workbench.pipeline.environment import RunEnvironment
from workbench.pipeline.run import check_question, run_pipeline
from workbench.pipeline.trace import StageTrace, Trace
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.sql import Database

JobState = Literal["running", "cancelling", "done"]


@dataclass(frozen=True)
class PlannedStage:
    """A stage the run will go through, known before it starts."""

    order: int
    stage_id: str
    title: str


@dataclass(frozen=True)
class RunSnapshot:
    """What a run has done so far.

    Args:
        stages: the stages finished so far, in order (skipped ones included).
        planned: every stage of the run, for drawing the ones still to come.
        trace: the whole trace, once the run is done (None if it crashed).
        error: why the run as a whole could not finish, if it could not.
    """

    question: str
    as_of: date
    state: JobState
    stages: tuple[StageTrace, ...]
    planned: tuple[PlannedStage, ...]
    elapsed_s: float
    trace: Trace | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.state != "done"

    @property
    def current(self) -> PlannedStage | None:
        """The stage being worked on now, or None when the run is done."""
        if not self.running or len(self.stages) >= len(self.planned):
            return None
        return self.planned[len(self.stages)]


class RunJob(BackgroundJob):
    """One pipeline run in its own thread. Build it with ``start_run_job``.

    Args:
        close_llm: close ``env.llm`` when the run ends (it was made for this run).
    """

    thread_name = "workbench-run"
    what = "the run"

    def __init__(
        self,
        question: str,
        env: RunEnvironment,
        *,
        as_of: date,
        use_cache: bool = True,
        close_llm: bool = False,
    ):
        super().__init__()
        self.question = question
        self.as_of = as_of
        self._env = env
        self._use_cache = use_cache
        self._close_llm = close_llm
        self.planned = tuple(PlannedStage(p.order, p.id, p.title) for p in env.prompts.stages)
        self._stages: list[StageTrace] = []

    def wait(self, timeout: float | None = None) -> RunSnapshot:
        """Block until the run is done (or the timeout passes); returns a snapshot."""
        self._finished.wait(timeout)
        return self.snapshot()

    def snapshot(self) -> RunSnapshot:
        with self._lock:
            if self.done:
                state: JobState = "done"
            else:
                state = "cancelling" if self.cancel_requested else "running"
            return RunSnapshot(
                question=self.question,
                as_of=self.as_of,
                state=state,
                stages=tuple(self._stages),
                planned=self.planned,
                elapsed_s=self.elapsed_s,
                trace=self._result,
                error=self._error,
            )

    def _on_stage(self, stage: StageTrace) -> None:
        with self._lock:
            self._stages.append(stage)

    def work(self) -> Trace:
        return run_pipeline(
            self.question,
            self._env,
            as_of=self.as_of,
            use_cache=self._use_cache,
            on_stage=self._on_stage,
            cancel=self._cancel,
        )

    def finished(self, result: Trace | None) -> None:
        if result is not None:
            self._stages = list(result.stages)

    def cleanup(self) -> None:
        if self._close_llm:
            self._env.llm.close()


def start_run_job(
    question: str,
    *,
    as_of: date,
    settings: Settings,
    store: Engine | None = None,
    llm: LLM | None = None,
    use_cache: bool = True,
    database: Database | None = None,
) -> RunJob:
    """Check the question and the prompt files, then start the run in the background.

    Args:
        llm: the model to call; default: a client for ``settings`` (closed at the end).
        store: where the finished (or cancelled) trace is saved, and the stage cache.
        database: where the SQL runs; default: the settings' target database.

    Raises:
        QuestionError: the question is empty or too long.
        PromptError: a prompt file or the gates file is malformed.
    """
    question = check_question(question)
    prompts = load_prompt_set(settings.prompts_dir)  # a bad prompt file fails before a client
    close_llm = llm is None
    env = RunEnvironment(settings, llm or make_llm(settings), prompts, database, store)
    job = RunJob(question, env, as_of=as_of, use_cache=use_cache, close_llm=close_llm)
    return job.start()
