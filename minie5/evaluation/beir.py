"""A retrieval dataset in BEIR's format (Thakur et al. 2021, https://github.com/beir-cellar/beir):

    corpus.jsonl         {"_id": ..., "title": ..., "text": ...} per line
    queries.jsonl        {"_id": ..., "text": ...} per line
    qrels/<split>.tsv    query-id <tab> corpus-id <tab> score, after a header row

Every line is checked: an error names the file and the line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..errors import Minie5Error
from ..files import json_object
from ..st_compat import join_title


@dataclass
class Dataset:
    corpus: dict[str, dict[str, str]]  # doc id -> {"title", "text"}
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> relevance (0 = judged not relevant)
    name: str = ""

    def passage(self, doc_id: str) -> str:
        """A document as one text, title and text joined as BEIR's encoders join them."""
        return join_title(self.corpus[doc_id])


def load_beir(folder: str | Path, split: str = "test") -> Dataset:
    """The dataset in `folder`, with the qrels of `split`; only queries that have qrels are kept."""
    folder = Path(folder)
    corpus = {}
    for path, number, record in _jsonl(folder / "corpus.jsonl"):
        doc_id = _id(record, path, number)
        if not isinstance(record.get("text"), str) or not isinstance(record.get("title", ""), str):
            raise Minie5Error(f"{path} line {number}: 'text' (and 'title', if any) must be strings")
        corpus[doc_id] = {"title": record.get("title", ""), "text": record["text"]}
    queries = {}
    for path, number, record in _jsonl(folder / "queries.jsonl"):
        if not isinstance(record.get("text"), str):
            raise Minie5Error(f"{path} line {number}: 'text' must be a string")
        queries[_id(record, path, number)] = record["text"]
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise Minie5Error(f"{qrels_path}: no such file (splits here: {', '.join(splits) or 'none'})")
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.reader(f, delimiter="\t"), start=1):
            if number == 1 and row and not row[-1].lstrip("-").isdigit():
                continue  # the header
            if len(row) != 3 or not row[2].lstrip("-").isdigit():
                raise Minie5Error(f"{qrels_path} line {number}: expected query-id, corpus-id, integer score")
            query, doc, score = row
            if query not in queries or doc not in corpus:
                missing = "query" if query not in queries else "document"
                raise Minie5Error(f"{qrels_path} line {number}: no {missing} {query if missing == 'query' else doc!r}")
            qrels.setdefault(query, {})[doc] = int(score)
    return Dataset(corpus, {q: t for q, t in queries.items() if q in qrels}, qrels, folder.name)


def _jsonl(path: Path):
    if not path.is_file():
        raise Minie5Error(f"{path}: no such file (a BEIR folder holds corpus.jsonl, queries.jsonl, qrels/)")
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise Minie5Error(f"{path}: not valid UTF-8 (byte {e.start})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        yield path, number, json_object(line, path, number)


def _id(record: dict, path: Path, number: int) -> str:
    value = record.get("_id")
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise Minie5Error(f"{path} line {number}: '_id' must be a string")
    return str(value)
