"""Tools for porters and auditors: checking another implementation against minie5's reference.

    trace.py          every intermediate tensor of the reference's forward pass, by transformers'
                      module names, and the .npz trace file format
    compare.py        two traces tensor by tensor: where an implementation first parts from minie5
    peers.py          traces of transformers + PyTorch and of ONNX Runtime, for comparison
    attention_map.py  pictures of a layer's attention weights
    examples.py       the e5 model card's example texts
"""
