"""Embedding a corpus too big for one process: on a Ray cluster, in resumable parts.

    parts.py  the input files, cut into deterministic parts; the manifest that ties an output
              folder to one model, one set of options and one input
    worker.py one part: read its rows, embed them (longest first), write them in input order
    ray_job.py the parts spread over an actor pool, one model per worker, with progress

`embed_corpus(...)` is the whole job as a function; `minie5 embed-corpus` is its command line.
Needs the ray extra (Ray Data, with pyarrow and pandas): `pip install ".[ray]"` in a checkout.
"""

from .ray_job import embed_corpus

__all__ = ["embed_corpus"]
