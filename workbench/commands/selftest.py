"""``workbench selftest``: do the model servers answer the same one at a time and together?

Runs the concurrency self-test (``workbench.llm.selftest``) against every server of
the pool, stores each result with the server's fingerprint, and exits 1 when a server
failed: smoke runs then send it one case at a time.
"""

from __future__ import annotations

import argparse
import sys

from workbench.commands import Outcome, whole_number
from workbench.llm import serving
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.smoke import check_servers, default_concurrency
from workbench.smoke.plan import MAX_CONCURRENCY
from workbench.store import open_store


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "selftest",
        parents=[common],
        help="check that concurrent requests get the same tokens as sequential ones",
        description="Send the same prompts to each model server one at a time and then "
        "CONCURRENCY at a time, compare the generated tokens, and store the result with the "
        "server's settings. Smoke runs send cases concurrently only to a server that passed. "
        "Exits 1 when a server failed.",
    )
    parser.add_argument(
        "--concurrency",
        type=whole_number(2, MAX_CONCURRENCY),
        help="requests at once (default: the managed server's max-num-seqs, else 4)",
    )
    parser.set_defaults(handler=selftest_command)


def selftest_command(args: argparse.Namespace, settings: Settings) -> Outcome:
    store = open_store(settings)
    prompts = load_prompt_set(settings.prompts_dir)
    concurrency = args.concurrency or default_concurrency(settings)
    with serving(settings, _say) as server:
        _say(f"self-test of {', '.join(settings.base_urls)}: {concurrency} requests at a time")
        results = check_servers(settings, store, prompts, concurrency=concurrency, server=server)
    data = [
        {
            "endpoint": r.endpoint,
            "passed": r.passed,
            "concurrency": r.concurrency,
            "differing": list(r.differing),
            "prefix_cache_differing": list(r.warm_differing),
            "sequential_s": round(r.sequential_s, 2),
            "concurrent_s": round(r.concurrent_s, 2),
            "speedup": round(r.speedup, 2),
            "flags": r.flags,
        }
        for r in results
    ]
    text = "\n".join(f"{r.endpoint}: {r.summary()}" for r in results)
    return Outcome(data=data, text=text, exit_code=0 if all(r.passed for r in results) else 1)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
