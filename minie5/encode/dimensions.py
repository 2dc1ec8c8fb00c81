"""How many dimensions a vector keeps: one rule for the library's `truncate_dim` and the server's
`dimensions` (OpenAI's and text-embeddings-inference's field).

The rule: any number from 1 to the model's width. The first N dimensions are kept and the vector is
then scaled to unit length (as sentence-transformers' truncate_dim does). Cutting a vector keeps its
ranking only for a model trained for it (Matryoshka Representation Learning, Kusupati et al. 2022,
trains every prefix of the vector to embed on its own); a model's files do not say whether it was,
so every cut below the full width warns, once per width, in the same words from every front end.
"""

from __future__ import annotations

import warnings

from ..errors import check_int


def kept_dimensions(requested: int | None, dim: int, argument: str = "truncate_dim") -> int | None:
    """The dimensions to keep of a `dim`-wide vector: None for all of them (none asked, or exactly
    `dim`), else `requested`; a ValueError naming `argument` for anything but 1 to `dim`."""
    if requested is None:
        return None
    check_int(argument, requested, 1, dim, what=f"dimensions to keep of the model's {dim}")
    return None if requested == dim else requested


def warn_cut(kept: int, dim: int) -> None:
    """The one warning for vectors cut below the model's width (library and server alike)."""
    warnings.warn(f"vectors cut to their first {kept} of {dim} dimensions (truncate_dim / dimensions): rankings "
                  "hold up only where the model was trained for it (Matryoshka); minie5 cannot tell from the "
                  "model's files whether it was", UserWarning, stacklevel=3)
