"""e5's input prefixes (E5 paper, section 4.2 and appendix): asymmetric tasks mark the short side
"query: " and the documents "passage: ". Forgetting them is the most common way to get quietly
worse embeddings from an e5 model, so minie5 adds them on request and warns when they are missing.
"""

from __future__ import annotations

import re

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
PREFIXES = {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX}
# What sentence-transformers' prompt names mean for an e5 model that ships no prompts of its own.
E5_PROMPTS = {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX, "document": PASSAGE_PREFIX}


def with_prefix(texts: list[str], prefix: str) -> list[str]:
    """Each text with `prefix` in front, unless it already starts with it (never added twice)."""
    return [t if t.startswith(prefix) else prefix + t for t in texts]


def expects_prefixes(*names: str) -> bool:
    """Whether a model is an e5 model, trained to see a prefix before every text, judged by its
    names (intfloat/e5-small-v2, multilingual-e5-base, a folder e5-small-v2...)."""
    return bool(re.search(r"(?<![a-z0-9])e5(?![a-z0-9])", " ".join(names).lower()))


def count_bare(texts: list[str]) -> int:
    """How many texts start with neither prefix."""
    return sum(1 for t in texts if not t.startswith((QUERY_PREFIX, PASSAGE_PREFIX)))


def bare_texts_warning(bare: int, total: int) -> str:
    return (f"{bare} of {total} texts start with neither {QUERY_PREFIX!r} nor {PASSAGE_PREFIX!r}; e5 "
            "models were trained with them and embed worse without. Use encode_queries / "
            "encode_passages (CLI: --query / --passage), or add them yourself.")
