"""The pipeline: a question through the stage prompts, traced stage by stage.

- ``environment``: ``RunEnvironment``, what a run runs against;
- ``run``: ``run_pipeline``, the loop over the stages;
- ``stages``: the stage kinds (dates, rewrite, sql, narrative) and the model call;
- ``cleaner``: which line of a model's answer becomes a rewrite stage's output;
- ``trace``: everything a run did, stored and compared;
- ``cache``: the stage cache; ``replay``: an earlier run's answers, reused;
- ``job``: a run in a background thread, for a page;
- ``compare``: two runs stage by stage; ``view``: a run as the Run page draws it;
- ``reference``: the paper's worked example as a trace.
"""

from __future__ import annotations

from workbench.pipeline.cache import StageCache, answer_digest, request_key
from workbench.pipeline.cleaner import CleanedAnswer, clean_answer, clean_rewrite
from workbench.pipeline.compare import (
    RunComparison,
    compare_link,
    compare_runs,
    default_pair,
    linked_pair,
    trace_link,
)
from workbench.pipeline.environment import RunEnvironment, check_workspace
from workbench.pipeline.job import RunJob, RunSnapshot, start_run_job
from workbench.pipeline.reference import (
    REFERENCE_TRACE_ID,
    is_reference,
    load_reference_trace,
    open_trace,
    reference_trace_path,
)
from workbench.pipeline.replay import Replay
from workbench.pipeline.run import MAX_QUESTION_CHARS, check_question, run_pipeline
from workbench.pipeline.stages import STAGE_KINDS, StageContext, StageResult
from workbench.pipeline.trace import (
    ResultTrace,
    SQLTrace,
    StageTrace,
    Trace,
    TraceSummary,
    load_trace,
    recent_traces,
    save_trace,
    trace_from_json,
    trace_summaries,
    trace_to_dict,
    trace_to_json,
)

__all__ = [
    "MAX_QUESTION_CHARS",
    "REFERENCE_TRACE_ID",
    "STAGE_KINDS",
    "CleanedAnswer",
    "Replay",
    "ResultTrace",
    "RunComparison",
    "RunEnvironment",
    "check_workspace",
    "RunJob",
    "RunSnapshot",
    "SQLTrace",
    "StageCache",
    "StageContext",
    "StageResult",
    "StageTrace",
    "Trace",
    "TraceSummary",
    "answer_digest",
    "check_question",
    "clean_answer",
    "clean_rewrite",
    "compare_link",
    "compare_runs",
    "default_pair",
    "is_reference",
    "linked_pair",
    "load_reference_trace",
    "reference_trace_path",
    "load_trace",
    "open_trace",
    "recent_traces",
    "request_key",
    "run_pipeline",
    "save_trace",
    "start_run_job",
    "trace_from_json",
    "trace_link",
    "trace_summaries",
    "trace_to_dict",
    "trace_to_json",
]
