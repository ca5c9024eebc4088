"""Token counts: the offline Qwen3 vocabulary and counts from a server's /tokenize."""

from __future__ import annotations

import httpx2
import pytest
import tiktoken
from tiktoken.load import load_tiktoken_bpe

from tests.scripted_server import ScriptedServer
from workbench.errors import LLMUnavailable
from workbench.prompts.tokens import (
    OFFLINE_LABEL,
    QWEN3_ORDINARY_TOKENS,
    _offline_encoder,
    count_tokens_offline,
    offline_tokenizer,
    qwen3_vocabulary_file,
    server_tokenizer,
)

# The pre-tokenizer of Qwen2.5 and Qwen3 as published in their tokenizer.json
# ("Split" pattern), written out here rather than taken from the package.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def test_vocabulary_is_the_qwen3_size() -> None:
    ranks = load_tiktoken_bpe(str(qwen3_vocabulary_file()))
    assert len(ranks) == QWEN3_ORDINARY_TOKENS


def test_hello_world_has_the_published_qwen_token_ids() -> None:
    # Qwen2/2.5/3 all encode "Hello, world!" as [9707, 11, 1879, 0].
    assert _offline_encoder().encode("Hello, world!") == [9707, 11, 1879, 0]
    assert count_tokens_offline("Hello, world!") == 4


def test_digits_are_split_one_by_one() -> None:
    # 8 digits, each its own token, and two hyphens.
    assert count_tokens_offline("2026-03-31") == 10


def test_chat_markers_count_as_one_token_each() -> None:
    assert count_tokens_offline("<|im_start|>system\n") == 3  # marker, "system", newline


def test_counts_match_an_encoder_built_from_the_vocabulary_file() -> None:
    reference = tiktoken.Encoding(
        "qwen3-reference",
        pat_str=QWEN2_SPLIT,
        mergeable_ranks=load_tiktoken_bpe(str(qwen3_vocabulary_file())),
        special_tokens={},
    )
    text = (
        "## Resolve relative dates\n"
        "- Replace 'this quarter' with the ISO range ending {{as_of}}.\n"
        "- Keep physician names (Dr. Müller, Dr. O'Brien) exactly as written.\n\n"
        "```sql\nSELECT count(*) FROM results WHERE flag = 'H';\n```\n"
    )
    assert count_tokens_offline(text) == len(reference.encode(text))


def test_offline_tokenizer_says_which_counted() -> None:
    count = offline_tokenizer().count("Hello, world!")
    assert (count.tokens, count.tokenizer) == (4, OFFLINE_LABEL)


def test_server_counts_say_server_and_model(scripted_server: ScriptedServer) -> None:
    def count_via_server(text: str) -> int:
        url = scripted_server.base_url.removesuffix("/v1") + "/tokenize"
        return httpx2.post(url, json={"model": "qwen3-32b", "prompt": text}).json()["count"]

    count = server_tokenizer(count_via_server, "qwen3-32b").count("one two three")
    assert count.tokenizer == "server:/tokenize qwen3-32b"
    assert count.tokens == 3  # the scripted server counts whitespace-separated words
    assert scripted_server.paths[-1].endswith("/tokenize")


def test_server_failure_falls_back_to_offline() -> None:
    def unreachable(_text: str) -> int:
        raise LLMUnavailable("no server at http://127.0.0.1:9/v1")

    count = server_tokenizer(unreachable, "qwen3-32b").count("Hello, world!")
    assert (count.tokens, count.tokenizer) == (4, OFFLINE_LABEL)


def test_errors_other_than_the_server_propagate() -> None:
    def broken(_text: str) -> int:
        raise ValueError("bug")

    with pytest.raises(ValueError):
        server_tokenizer(broken, "m").count("x")
