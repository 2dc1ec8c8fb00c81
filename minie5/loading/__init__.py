"""Reading a model's files, strictly: every value checked, every error naming its file.

    config.py                the architecture, from config.json (`BertConfig`)
    safetensors_file.py      the safetensors format: header, offsets, dtypes
    weights.py               the tensors the encoder needs, by transformers' names, shapes checked
    tokenizer.py             tokenizer.json, with padding and truncation under minie5's control
    hub.py                   a model name to a folder: installed package, Hugging Face cache, download
    sentence_transformers.py pooling, normalisation and length limit from the sentence-transformers files
"""
