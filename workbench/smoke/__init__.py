"""The smoke suite: gold cases run through the pipeline several times, judged, compared.

- ``cases``: a case file into ``SmokeCase`` values; selecting cases;
- ``check``: proving the gold cases against the database (``smoke check``);
- ``repeat``: one case's repeats through the pipeline, each judged;
- ``verdicts``: pass, fail, flaky or error over the repeats, and where they part ways;
- ``runner``: a whole run, stored case by case, resumable;
- ``results``: the run's values and their rows in the store;
- ``compare``, ``plots``, ``report``: two runs side by side, the lab's plots, text,
  JSON and JUnit;
- ``review``: a run filtered as a reviewer reads it, the stage that broke each failing
  case, a case's repeats side by side;
- ``firstrun``: a small first run (one case per category, once) and its estimated time;
- ``job``: a run in a background thread, for a page;
- ``experiments``: the same suite under several server settings or models;
- ``training``: passing cases as ChatML training examples.
"""

from __future__ import annotations

from workbench.smoke.cases import (
    CATEGORIES,
    SmokeCase,
    load_case_file,
    load_cases,
    load_tags,
    select_cases,
    smoke_dir,
)
from workbench.smoke.check import CheckReport, check_cases
from workbench.smoke.compare import (
    SmokeComparison,
    compare_smoke_runs,
    comparison_frame,
    format_comparison,
    model_matrix,
    variant_rates,
)
from workbench.smoke.experiments import CPU_EXPERIMENT, Connections, model_variants, run_variants
from workbench.smoke.firstrun import RunEstimate, estimate_run, first_run_cases, first_run_options
from workbench.smoke.job import SmokeJob, start_smoke_job
from workbench.smoke.plots import (
    category_figure,
    divergence_figure,
    margin_figure,
    rates_figure,
)
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
    SmokeOptions,
    SmokeProgress,
    execute_run,
    record_run,
    resume_run,
    run_suite,
    select_suite,
)
from workbench.smoke.training import export_training, fixed_since

__all__ = [
    "CATEGORIES",
    "CPU_EXPERIMENT",
    "REVIEW_VIEWS",
    "CaseResult",
    "CheckReport",
    "Connections",
    "ReviewView",
    "RunEstimate",
    "RunRecord",
    "RunSummary",
    "SmokeCase",
    "SmokeComparison",
    "SmokeJob",
    "SmokeOptions",
    "SmokeProgress",
    "StageBreak",
    "break_figure",
    "category_figure",
    "check_cases",
    "compare_smoke_runs",
    "comparison_frame",
    "divergence_figure",
    "estimate_run",
    "execute_run",
    "export_training",
    "first_break",
    "first_run_cases",
    "first_run_options",
    "fixed_since",
    "format_comparison",
    "format_run",
    "junit_xml",
    "list_runs",
    "load_case_file",
    "load_cases",
    "load_run",
    "load_tags",
    "margin_figure",
    "model_matrix",
    "model_variants",
    "rates_figure",
    "record_run",
    "repeat_stages",
    "results_frame",
    "resume_run",
    "review_cases",
    "run_suite",
    "run_summary",
    "run_variants",
    "select_cases",
    "select_suite",
    "smoke_dir",
    "start_smoke_job",
    "variant_rates",
    "view_counts",
    "write_junit",
]
