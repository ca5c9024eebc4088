"""``workbench run "QUESTION"``: one question through the pipeline, printed stage by stage.

The exit code is 1 when the run failed (a stage's call failed, or the SQL did not
parse, was refused or did not run) or was cancelled, so scripts can tell; the trace is
printed either way, whole with ``--json``. Runs are saved in the store and use the
stage cache unless ``--no-cache``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from workbench.commands import Outcome, reachable_database
from workbench.llm import make_llm, serving
from workbench.markup import terminal_text
from workbench.pipeline import RunEnvironment, Trace, check_question, run_pipeline, trace_to_dict
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.store import open_store

ROWS_SHOWN = 20


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "run", parents=[common], help="run a question through the pipeline and print its trace"
    )
    parser.add_argument("question", help="the question, as a user would type it")
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="reference date YYYY-MM-DD"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="call every stage afresh (still refreshes it)"
    )
    parser.set_defaults(handler=run_question)


def run_question(args: argparse.Namespace, settings: Settings) -> Outcome:
    question = check_question(args.question)  # a bad question fails before a server starts
    prompts = load_prompt_set(settings.prompts_dir)  # so does a bad prompt file
    # and a database that is down, when a stage needs one
    database = reachable_database(settings) if prompts.needs_database else None
    with serving(
        settings, lambda message: print(terminal_text(message), file=sys.stderr, flush=True)
    ):
        llm = make_llm(settings)
        try:
            env = RunEnvironment(settings, llm, prompts, database, open_store(settings))
            trace = run_pipeline(
                question, env, as_of=args.as_of or settings.as_of, use_cache=not args.no_cache
            )
        finally:
            llm.close()
    return Outcome(
        data=trace_to_dict(trace),
        text=format_trace(trace),
        exit_code=0 if trace.status == "ok" else 1,
    )


def format_trace(trace: Trace) -> str:
    """The trace for people: one block per stage, then the SQL, rows and answer."""
    lines = [
        f"question  {trace.question}",
        f"as of     {trace.as_of.isoformat()}   endpoint {trace.endpoint}   "
        f"prompts {trace.prompt_set_hash[:12]}   run {trace.id}",
        "",
    ]
    for stage in trace.stages:
        head = f"{stage.order}. {stage.title}"
        if stage.skipped:
            lines += [f"{head}  [skipped] {stage.error}", ""]
            continue
        facts = []
        if stage.called_model:
            facts.append(stage.model or "?")
            facts.append("think" if stage.parameters and stage.parameters.thinking else "no-think")
            facts.append("cached" if stage.cached else f"{stage.latency_s:.2f} s")
            facts.append(f"tokens {stage.prompt_tokens}/{stage.completion_tokens}")
            if stage.min_margin is not None:
                facts.append(f"min margin {stage.min_margin:.2f} at token {stage.min_margin_index}")
        else:
            facts.append("Python only, no model call")
        lines.append(f"{head}  [{' · '.join(facts)}]")
        if stage.gate is not None:
            verdict = "thinking" if stage.gate.thinking else "no thinking"
            why = "; ".join(stage.gate.fired) or "no rule fired"
            lines.append(f"   {stage.gate.gate}: {verdict} ({why})")
        for span in stage.date_spans:
            lines.append(f"   date  {span.source!r} -> {span.rendered}  [{span.resolved_by}]")
        for hint in stage.unresolved_dates:
            lines.append(f"   date  {hint!r} not resolved")
        if stage.thinking_note:
            lines.append(f"   {stage.thinking_note}")
        if stage.runaway:
            lines.append(f"   runaway: {stage.runaway}")
        if stage.output is not None:
            lines.append(f"   -> {stage.output}")
        if stage.error is not None:
            lines.append(f"   !! {stage.error_kind}: {stage.error}")
        lines.append("")
    if trace.sql is not None and trace.sql.error is None:
        lines += ["SQL", trace.sql.formatted or trace.sql.original, ""]
    if trace.result is not None:
        result = trace.result
        lines.append(f"rows ({result.row_count}, {result.elapsed_ms:.0f} ms)")
        lines.append(" | ".join(result.columns))
        lines += [" | ".join(str(v) for v in row) for row in result.rows[:ROWS_SHOWN]]
        if result.row_count > ROWS_SHOWN:
            lines.append(f"... {result.row_count - ROWS_SHOWN} more")
        lines.append("")
    if trace.narrative is not None:
        lines += ["answer", trace.narrative, ""]
    lines.append(f"status {trace.status} in {trace.elapsed_s:.2f} s")
    return "\n".join(lines)
