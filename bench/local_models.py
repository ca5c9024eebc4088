"""The local catalog models on this machine: start time, decode speed, memory, a smoke sample.

    python -m bench.local_models [NAME ...] [--cases N] [--json FILE]

For each model (default: every catalog entry that is installed), start the managed
server on a free port, time three identical generations (tokens per second of the
answer), read the server's resident memory, run the first-run smoke sample (the first
case of each category, one repeat; ``--cases`` more per category), and stop the
server. Not part of ``make bench``: it starts real servers and takes minutes per model.
The numbers show the workbench working on a CPU, not what the pipeline can do.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path

from workbench.cases import load_cases, smoke_dir
from workbench.llm import CATALOG, ChatRequest, Message, ServerManager, make_llm, model_state
from workbench.pipeline import RunEnvironment
from workbench.prompts import load_prompt_set
from workbench.settings import load_settings
from workbench.smoke import SmokeOptions, run_suite
from workbench.smoke.firstrun import first_run_cases
from workbench.store import open_store

PROMPT = "Explain, in about 200 words, what a SQL GROUP BY clause does, with an example."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample_ids(fixtures: Path, per_category: int) -> tuple[str, ...]:
    suite = load_cases(smoke_dir(fixtures))
    ids: list[str] = []
    remaining = list(suite)
    for _ in range(per_category):
        picked = first_run_cases(remaining)
        ids += [c.id for c in picked]
        remaining = [c for c in remaining if c.id not in ids]
    return tuple(ids)


def measure(name: str, per_category: int) -> dict:
    base = load_settings()
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    settings = base.model_copy(
        update={
            "local_model": name,
            "data_dir": data_dir,
            "model_dir": base.model_dir or base.data_dir / "models",
            "base_url": "",
            "server_port": free_port(),
        }
    )
    state = model_state(settings, next(e for e in CATALOG if e.name == name))
    manager = ServerManager(settings)
    started = time.monotonic()
    manager.start(lambda line: print(f"  [{name}] {line}", flush=True))
    start_s = time.monotonic() - started
    llm = make_llm(settings)
    try:
        speeds = []
        for _ in range(3):
            completion = llm.complete(
                ChatRequest(
                    model=name,
                    messages=(Message("user", PROMPT),),
                    max_tokens=256,
                    logprobs=False,
                )
            )
            speeds.append(completion.completion_tokens / completion.latency_s)
        rss_mib = manager.memory_mib()
        ids = sample_ids(settings.fixtures_dir, per_category)
        env = RunEnvironment(
            settings, llm, load_prompt_set(settings.prompts_dir), store=open_store(settings)
        )
        smoke_started = time.monotonic()
        record = run_suite(env, SmokeOptions(repeats=1, ids=ids, label=f"bench {name}"))
        smoke_s = time.monotonic() - smoke_started
        rss_after = manager.memory_mib()
    finally:
        llm.close()
        manager.stop()
    counts = record.counts
    return {
        "model": name,
        "converted_folder_mb": round((state.folder_bytes or 0) / 1e6),
        "start_to_healthy_s": round(start_s, 1),
        "decode_tok_s": round(statistics.median(speeds), 1),
        "rss_mib_idle": round(rss_mib or 0),
        "rss_mib_after_smoke": round(rss_after or 0),
        "smoke_cases": counts.cases,
        "smoke_passed": counts.passed,
        "smoke_failed": counts.failed,
        "smoke_errors": counts.errors,
        "smoke_s": round(smoke_s),
        "smoke_s_per_case": round(smoke_s / max(counts.done, 1), 1),
        "verdicts": {r.case_id: f"{r.verdict}: {r.reason[:120]}" for r in record.results},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.local_models")
    parser.add_argument("names", nargs="*", help="catalog names (default: the installed ones)")
    parser.add_argument("--cases", type=int, default=1, help="cases per category (default 1)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    settings = load_settings()
    names = args.names or [
        e.name
        for e in CATALOG
        if model_state(settings, e).installed or model_state(settings, e).converted
    ]
    results = [measure(name, args.cases) for name in names]
    for result in results:
        print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
