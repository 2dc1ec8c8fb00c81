"""(query, document) pairs as rerankers take them, checked: what every reranker's predict reads first."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import TextError


def check_pairs(pairs) -> tuple[list[str], list[str]]:
    """Pairs of strings as two lists, or a TextError naming the pair at fault."""
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__len__"):
        raise TypeError(f"pairs must be a list of (query, document) pairs, got {type(pairs).__name__}")
    queries, documents = [], []
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TextError(i, f"is {pair!r:.60}, not a (query, document) pair", "pass two strings per pair")
        for side, text in zip(("query", "document"), pair):
            if not isinstance(text, str):
                raise TextError(i, f"has a {side} of type {type(text).__name__}", "queries and documents are strings")
        queries.append(pair[0])
        documents.append(pair[1])
    return queries, documents
