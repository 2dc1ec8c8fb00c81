"""minie5 where users' code already is: LangChain (`langchain.py`) and Chroma (`chroma.py`).

Each module imports its framework when it is imported, never before: `import minie5` pulls in
neither. Both embed documents as passages and queries as queries: e5's "passage: " / "query: "
prefixes (or the model's own prompts, through minie5.encode.prompts, as every front end), which
the frameworks have no notion of.
"""
