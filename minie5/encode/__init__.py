"""The text pipeline: everything between a user's strings and the backend's token ids, and
between the backend's pooled vectors and what the user gets back. Every front end (Model, the
server, BatchEmbedder, the integrations, the CLI) goes through it.

    prompts.py     "query" / "passage" / "document" -> the text put before each input
    long_texts.py  texts over the model's limit: truncate, chunk or error
    batching.py    token sequences -> batches of like length under a token budget; ids checked
    backend.py     what a backend does: token ids -> pooled vectors
    embedder.py    the steps in order: prepare (prompt, tokens), pool (the passes), finish
                   (window means, truncate_dim, unit length)
    quantize.py    the output precision: float16, int8/uint8, binary
"""
