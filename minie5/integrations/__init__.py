"""minie5 where users' code already is: LangChain (`langchain.py`), Chroma (`chroma.py`),
LlamaIndex (`llama_index.py`) and Haystack (`haystack.py`).

Each module imports its framework when it is imported, never before: `import minie5` pulls in
none of them. All embed documents as passages and queries as queries: e5's "passage: " / "query: "
prefixes (or the model's own prompts, through minie5.encode.prompts, as every front end), which
the frameworks have no notion of.
"""
