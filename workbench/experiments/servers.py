"""Determinism experiments: the same suite under several server settings or models.

On the CPU default the paper's three problems can be reproduced with the server's
knobs: bf16 with concurrent requests (batching changes the numerics, outputs flip), one
sequence at a time (they stop flipping), float32 (different numerics, same weights: a
stand-in for a retrain), a restart between repeats, and the prefix cache off. With the
cache on, a repeat reuses the keys and values its first run left behind instead of
computing the prompt afresh, which is enough to flip a near-tie even one request at a
time; with it off, every repeat computes the same prefill. An experiment restarts the
managed server with each setting in turn and runs the suite; the flake rate of each
setting then sits side by side (``workbench.smoke.compare.variant_rates``), and which cases
flipped between two settings is the model matrix (``workbench.smoke.compare.model_matrix``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.cases.suite import SmokeCase
from workbench.errors import ConfigError
from workbench.llm import LLM, ServerManager, make_llm
from workbench.pipeline import RunEnvironment
from workbench.settings import Settings
from workbench.smoke.results import RunRecord
from workbench.smoke.runner import ProgressCallback, SmokeOptions, run_suite


@dataclass(frozen=True)
class Variant:
    """One setting of an experiment.

    Args:
        overrides: Settings fields to change (``server_dtype``, ``model_main`` ...).
        restart_server: restart the managed server with these settings before the run
            (needed when a server knob changes; not for a model it already serves).
    """

    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 1
    restart_between_repeats: bool = False
    restart_server: bool = True


CPU_EXPERIMENT: tuple[Variant, ...] = (
    Variant("bf16, 4 at once", {"server_dtype": "bfloat16", "server_max_num_seqs": 4}, 4),
    Variant("bf16, max-num-seqs 1", {"server_dtype": "bfloat16", "server_max_num_seqs": 1}, 4),
    Variant("float32, 4 at once", {"server_dtype": "float32", "server_max_num_seqs": 4}, 4),
    Variant("bf16, restart between repeats", {"server_dtype": "bfloat16"}, 1, True),
    Variant(
        "bf16, no prefix cache",
        {"server_dtype": "bfloat16", "server_prefix_caching": False},
        1,
    ),
)
"""The knobs that make outputs flip, or stop flipping, on the CPU server."""


def model_variants(models: Iterable[str]) -> tuple[Variant, ...]:
    """One variant per served model name or LoRA adapter, every role pointed at it."""
    return tuple(
        Variant(
            name,
            {"model_main": name, "model_think": name, "model_sql_think": name},
            restart_server=False,
        )
        for name in models
    )


@dataclass(frozen=True)
class Connections:
    """How an experiment reaches the model under each setting: a client, and the server."""

    llm: Callable[[Settings], LLM] = make_llm
    server: Callable[[Settings], Any] = ServerManager


def run_variants(
    env: RunEnvironment,
    variants: Iterable[Variant],
    *,
    options: SmokeOptions | None = None,
    cases: Iterable[SmokeCase] | None = None,
    connect: Connections = Connections(),
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, RunRecord]:
    """Run the suite once per variant; returns each variant's stored run, by label.

    Each variant runs with ``env``'s prompts, database and store, its settings changed
    by the variant and a model client of its own (``env.llm`` is not used).

    When a variant restarted the managed server with other settings, the server is
    restarted with ``env.settings`` once the experiment ends, so what runs next (a page,
    a smoke run) meets the configured server, not the last variant's.

    Raises:
        ConfigError: a variant needs a server restart but the server is not managed.
    """
    settings = env.settings
    variants = tuple(variants)
    options = options or SmokeOptions()
    if any(v.restart_server or v.restart_between_repeats for v in variants) and (
        not settings.managed_server
    ):
        raise ConfigError(
            "changing server settings needs the managed model server: leave "
            "WORKBENCH_BASE_URL empty so the workbench can restart it"
        )
    cases = tuple(cases) if cases is not None else None
    cancel = cancel or threading.Event()
    runs: dict[str, RunRecord] = {}
    restarted = False
    for variant in variants:
        if cancel.is_set():
            break
        current = settings.model_copy(update=variant.overrides)
        server = connect.server(current) if settings.managed_server else None
        if server is not None and variant.restart_server:
            server.restart()
            restarted = True
        llm = connect.llm(current)
        try:
            runs[variant.label] = run_suite(
                replace(env, settings=current, llm=llm),
                replace(
                    options,
                    concurrency=variant.concurrency,
                    restart_between_repeats=variant.restart_between_repeats,
                    label=f"{options.label} {variant.label}".strip(),
                    unchecked_concurrency=True,  # the experiment studies batching itself
                ),
                cases=cases,
                server=server,
                on_progress=on_progress,
                cancel=cancel,
            )
        finally:
            llm.close()
    if restarted:
        connect.server(settings).restart()
    return runs
