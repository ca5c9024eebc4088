"""The smoke suite: gold cases run through the pipeline several times, judged, compared.

The cases themselves (their files, ``SmokeCase``, selecting and sampling them) are
``workbench.cases``; studies that run the suite several times and compare the runs (server
settings, models, pipeline variants) are ``workbench.experiments``.

- ``check``: proving the gold cases against the database (``smoke check``);
- ``repeat``: one case's repeats through the pipeline, each judged;
- ``verdicts``: pass, fail, flaky or error over the repeats, and where they part ways;
- ``plan``: what a run runs (hunt flakes or check an edit), how many at once, its cost;
- ``baseline``: whether a quick check's baseline can stand in, and which answers;
- ``estimate``: a run's expected wall time from the store's timings; ``calibration``:
  the server's speed measured when there are none;
- ``runner``: a whole run, stored case by case, resumable; ``progress``: its counts and
  time left; ``watch``: a server restarted under it;
- ``results``: the run's values and their rows in the store; ``owner``: the process
  running a run, so that one killed outright is not left *running*;
- ``compare``, ``plots``, ``report``: two runs side by side, the determinism plots, text,
  JSON and JUnit;
- ``review``: a run filtered as a reviewer reads it, the stage that broke each failing
  case, a case's repeats side by side;
- ``firstrun``: a small first run (one case per category, once);
- ``job``: a run in a background thread, for a page;
- ``training``: passing cases as ChatML training examples;
- ``servercheck``: the concurrency self-test of a run's servers, with the pipeline's prompt.
"""

from __future__ import annotations

from workbench.smoke.calibration import Calibration, ServerSpeed, calibrate
from workbench.smoke.check import CheckReport, check_cases
from workbench.smoke.compare import (
    SmokeComparison,
    compare_smoke_runs,
    comparison_frame,
    format_comparison,
    model_matrix,
    variant_rates,
)
from workbench.smoke.estimate import RunEstimate, format_duration
from workbench.smoke.firstrun import first_run_cases, first_run_options
from workbench.smoke.job import SmokeJob, start_smoke_job, suite_run
from workbench.smoke.plan import (
    MODE_LABELS,
    RunPlan,
    SmokeOptions,
    affordable_limit,
    measure_speed,
    plan_run,
)
from workbench.smoke.plots import (
    category_figure,
    divergence_figure,
    margin_figure,
    rates_figure,
)
from workbench.smoke.progress import SmokeProgress
from workbench.smoke.report import format_run, junit_xml, results_frame, run_summary, write_junit
from workbench.smoke.results import CaseResult, RunRecord, RunSummary, list_runs, load_run
from workbench.smoke.review import (
    REVIEW_VIEWS,
    ReviewView,
    StageBreak,
    break_figure,
    first_break,
    repeat_stages,
    review_cases,
    view_counts,
)
from workbench.smoke.runner import (
    execute_run,
    record_run,
    resume_run,
    run_plan,
    run_suite,
    select_suite,
)
from workbench.smoke.servercheck import (
    check_servers,
    default_concurrency,
    stored_checks,
    untested,
)
from workbench.smoke.training import export_training, fixed_since

__all__ = [
    "MODE_LABELS",
    "REVIEW_VIEWS",
    "Calibration",
    "CaseResult",
    "CheckReport",
    "ReviewView",
    "RunEstimate",
    "RunPlan",
    "RunRecord",
    "RunSummary",
    "ServerSpeed",
    "SmokeComparison",
    "SmokeJob",
    "SmokeOptions",
    "SmokeProgress",
    "StageBreak",
    "affordable_limit",
    "break_figure",
    "calibrate",
    "category_figure",
    "check_cases",
    "check_servers",
    "compare_smoke_runs",
    "comparison_frame",
    "default_concurrency",
    "divergence_figure",
    "execute_run",
    "export_training",
    "first_break",
    "first_run_cases",
    "first_run_options",
    "fixed_since",
    "format_comparison",
    "format_duration",
    "format_run",
    "junit_xml",
    "list_runs",
    "load_run",
    "margin_figure",
    "measure_speed",
    "model_matrix",
    "plan_run",
    "rates_figure",
    "record_run",
    "repeat_stages",
    "results_frame",
    "resume_run",
    "review_cases",
    "run_plan",
    "run_suite",
    "run_summary",
    "select_suite",
    "start_smoke_job",
    "suite_run",
    "stored_checks",
    "untested",
    "variant_rates",
    "view_counts",
    "write_junit",
]
