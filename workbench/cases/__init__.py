"""The suite's case files: the gold cases every verdict is measured against.

- ``suite``: reading and validating the case files and ``tags.yaml`` into frozen
  ``SmokeCase`` values; selecting cases, a stratified sample, a case's digest, counts;
- ``datespans``: the dates a case's relative question spans, against the range each
  date column of the database holds (cases that would look at no data);
- ``overlap``: cases whose question is nearly an entry of a prompt's example bank.

Running the cases is ``workbench.smoke``; proving their gold is ``workbench.smoke.check``.
"""

from __future__ import annotations

from workbench.cases.suite import (
    CATEGORIES,
    SmokeCase,
    load_case_file,
    load_cases,
    load_tags,
    select_cases,
    smoke_dir,
    stratified_sample,
    suite_categories,
    tag_categories,
)

__all__ = [
    "CATEGORIES",
    "SmokeCase",
    "load_case_file",
    "load_cases",
    "load_tags",
    "select_cases",
    "smoke_dir",
    "stratified_sample",
    "suite_categories",
    "tag_categories",
]
