"""An ONNX export of a transformers model with every hidden state as an output, for comparing
ONNX Runtime with minie5 layer by layer (tests/porting and tools/ground_truth.py)."""

from pathlib import Path


def export_all_hidden_states(model_dir: Path, onnx_path: Path) -> None:
    """ONNX export whose outputs are hidden_states.0 (the embeddings) .. hidden_states.L."""
    import torch
    from transformers import AutoModel

    peer = AutoModel.from_pretrained(str(model_dir)).eval()
    layers = peer.config.num_hidden_layers

    class Encoder(torch.nn.Module):  # positional arguments, as torch.onnx.export passes them
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return tuple(self.model(input_ids=input_ids, attention_mask=attention_mask,
                                    output_hidden_states=True).hidden_states)

    ids = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    names = [f"hidden_states.{i}" for i in range(layers + 1)]
    torch.onnx.export(Encoder(peer), (ids, ids), str(onnx_path), dynamo=False, opset_version=17,
                      input_names=["input_ids", "attention_mask"], output_names=names,
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, **{n: axes for n in names}})
