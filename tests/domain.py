"""Words that belong to the lab demo's domain: none of them may appear in the core, the
pages, or what plain ``init`` writes (the product knows no domain)."""

from __future__ import annotations

import re

LAB_WORDS = re.compile(
    r"\b(?:labs?|laborator(?:y|ies)|physicians?|patients?|specimens?|CBC|TSH|HbA1c|"
    r"lipid panels?|hematology|LOINC|troponin|ferritin|urinalysis)\b",
    re.IGNORECASE,
)
