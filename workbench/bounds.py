"""The ranges a numeric setting may take, shared by ``Settings`` and ``workbench.toml``.

Why one place: the workspace file used to accept ``timeout_s = inf`` that the settings then
refused under the name of an environment variable the user never set. Both now check with
these types, so the file reports its own ``path:line`` first. Why upper bounds: a timeout of
``1e300`` s overflowed the OS's ``select`` with a traceback, and a seed past 64 bits is
refused by the model server on the first call, far from the line that set it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_SECONDS = 7 * 24 * 3600
"""A week: longer than anything waits, and within PostgreSQL's statement_timeout (~24 days)."""
MAX_ROWS = 10_000_000
"""No result keeps more rows (the byte cap ends far sooner); more is a typo."""
SEED_RANGE = (-(2**63), 2**63 - 1)
"""A seed is a 64-bit integer for the OpenAI API and vLLM."""

Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
"""A timeout: positive and finite (0 or infinity would mean no timeout at all), at most a week."""
RowCap = Annotated[int, Field(ge=1, le=MAX_ROWS)]
"""How many rows a query keeps."""
Seed = Annotated[int, Field(ge=SEED_RANGE[0], le=SEED_RANGE[1])]
"""A sampling seed sent to the model server."""
