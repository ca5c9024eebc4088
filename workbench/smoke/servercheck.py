"""The concurrency self-test of the servers a smoke run goes to, with the pipeline's prompt.

The self-test (``workbench.llm.selftest``) is sent with the system prompt of the first
rewrite stage of the prompt set, so that its batches are as long as a smoke run's and
the speed-up it measures is the one a run will see. Each server of the pool is tested
and the result stored under its fingerprint (its launch flags when the workbench runs
it), which is where ``workbench.smoke.plan`` looks before sending cases at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from workbench.errors import LLMError
from workbench.llm import (
    OpenAIClient,
    SelfTestResult,
    ServerManager,
    identify,
    latest_selftest,
    run_selftest,
    save_selftest,
    selftest_requests,
)
from workbench.llm.selftest import SYSTEM
from workbench.prompts import PromptSet
from workbench.settings import Settings


def selftest_system(prompts: PromptSet | None) -> str:
    """The body of the first rewrite stage without template variables (else the built-in)."""
    for stage in prompts.stages if prompts is not None else ():
        if stage.kind == "rewrite" and not stage.variables:
            return stage.body.strip()
    return SYSTEM


def default_concurrency(settings: Settings) -> int:
    """The managed server's batch size (every batch it can form), else 4."""
    return settings.server_max_num_seqs if settings.managed_server else 4


def managed_flags(settings: Settings, server: ServerManager | None = None) -> dict[str, Any] | None:
    if not settings.managed_server:
        return None
    return (server or ServerManager(settings)).flags()


def check_servers(
    settings: Settings,
    store: Engine,
    prompts: PromptSet | None = None,
    *,
    concurrency: int | None = None,
    server: ServerManager | None = None,
) -> list[SelfTestResult]:
    """Self-test every server of the pool and store each result.

    Raises:
        LLMError: a server did not answer (no result is stored for it).
    """
    requests = selftest_requests(
        settings.model_for("main"), settings.seed, selftest_system(prompts)
    )
    flags = managed_flags(settings, server)
    results = []
    for url in settings.base_urls:
        client = OpenAIClient.from_settings(settings, url)
        try:
            result = run_selftest(
                client,
                identify(url, flags),
                requests,
                concurrency=concurrency or default_concurrency(settings),
            )
        finally:
            client.close()
        save_selftest(store, result)
        results.append(result)
    return results


def stored_checks(
    settings: Settings, store: Engine, server: ServerManager | None = None
) -> dict[str, SelfTestResult | None]:
    """The latest self-test of each server of the pool as it is now, by base URL."""
    flags = managed_flags(settings, server)
    return {url: latest_selftest(store, identify(url, flags)) for url in settings.base_urls}


def untested(settings: Settings, store: Engine, server: ServerManager | None = None) -> list[str]:
    """The servers of the pool with no self-test for their current settings."""
    return [url for url, check in stored_checks(settings, store, server).items() if check is None]


def selftest_first(
    settings: Settings,
    store: Engine,
    prompts: PromptSet | None,
    server: ServerManager | None,
    say: Callable[[str], None],
) -> None:
    """The concurrency self-test of the servers never tested with their current settings,
    so that a run knows how many cases it may send at once; one that cannot run leaves
    the cases one at a time (``say`` hears why) rather than failing the run."""
    missing = untested(settings, store, server)
    if not missing:
        return
    say(
        f"no concurrency self-test for {', '.join(missing)} with its current settings: "
        "running it first (about a minute)"
    )
    try:
        for result in check_servers(settings, store, prompts, server=server):
            say(f"{result.endpoint}: {result.summary()}")
    except LLMError as exc:
        say(f"the self-test could not run ({exc}); cases go one at a time")
