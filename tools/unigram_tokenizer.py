"""Train a small XLM-R-style tokenizer: a sentencepiece Unigram model wrapped as <s> ... </s>.

multilingual-e5-small (a BERT) and multilingual-e5-base/large (XLM-RoBERTa) tokenize with XLM-R's
250,002-piece sentencepiece Unigram vocabulary, which no package on the registries ships. The golden
tests need a tokenizer of the same kind, so this tool trains one with sentencepiece itself (the
`sentencepiece` package, needed here only) on the multilingual sentences below, with sentencepiece's
default nmt_nfkc normalisation, as XLM-R's was, and lays it out as the hub's XLM-R tokenizer.json:

    normalizer      sentencepiece's precompiled nmt_nfkc character map, then strip on the right
                    and runs of spaces -> one "▁"
    pre-tokenizer   Metaspace: spaces become "▁", one prepended to the text
    model           Unigram; <s>=0, <pad>=1, </s>=2, <unk>=3 as in fairseq's XLM-R, then the
                    sentencepiece pieces, then <mask>
    post-processor  <s> $A </s>

The result is committed as tests/golden/unigram/ (tokenizer.json and tokenizer_config.json), so the
tests never depend on the trainer giving the same pieces twice.

Run:  pip install sentencepiece && python tools/unigram_tokenizer.py [OUT_DIR]
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "golden" / "unigram"
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]  # ids 0-3, as in XLM-R
VOCAB_SIZE = 1000  # at most: sentencepiece stops where this small corpus runs out

CORPUS = """\
The river rises in the hills north of the town and reaches the sea after forty miles.
How much protein should a woman eat every day, and does it change during pregnancy?
The summit of a mountain is its highest point; a summit is also a meeting of leaders.
Le fleuve prend sa source dans les collines au nord de la ville et rejoint la mer.
Combien de protéines une femme doit-elle manger chaque jour pour rester en bonne santé ?
Der Fluss entspringt in den Hügeln nördlich der Stadt und erreicht nach vierzig Meilen das Meer.
Wie viel Eiweiß sollte eine Frau am Tag essen? Die Empfehlung hängt vom Körpergewicht ab.
El río nace en las colinas al norte del pueblo y llega al mar después de cuarenta millas.
¿Cuánta proteína debe comer una mujer al día? Depende de la edad y del ejercicio.
O rio nasce nas colinas ao norte da cidade e chega ao mar depois de quarenta milhas.
Il fiume nasce sulle colline a nord della città e raggiunge il mare dopo quaranta miglia.
Rzeka wypływa ze wzgórz na północ od miasta i po czterdziestu milach dociera do morza.
Река берёт начало в холмах к северу от города и впадает в море через сорок миль.
Сколько белка должна съедать женщина в день? Это зависит от веса и возраста.
Η πηγή του ποταμού βρίσκεται στους λόφους βόρεια της πόλης.
Nehir kasabanın kuzeyindeki tepelerden doğar ve kırk mil sonra denize ulaşır.
النهر ينبع من التلال شمال المدينة ويصل إلى البحر بعد أربعين ميلا.
कितना प्रोटीन एक महिला को हर दिन खाना चाहिए? यह वजन और उम्र पर निर्भर करता है।
河流发源于城镇北面的山丘，流经四十英里后注入大海。
女性每天应该摄入多少蛋白质？这取决于体重、年龄和运动量。
川は町の北の丘から流れ出し、四十マイル先で海に注ぐ。
女性は一日にどれくらいのたんぱく質を食べるべきですか。
강은 마을 북쪽의 언덕에서 시작하여 사십 마일 뒤에 바다에 이른다.
แม่น้ำไหลจากเนินเขาทางเหนือของเมืองลงสู่ทะเล
Sông bắt nguồn từ những ngọn đồi phía bắc thị trấn và chảy ra biển.
Mto huanzia kwenye vilima kaskazini mwa mji na kufika baharini.
The committee met again on Thursday to review the proposal, which had been revised twice.
Members raised questions about cost, maintenance, and the schedule for the second phase.
query: passage: search engines, embeddings, retrieval, multilingual text, numbers 1234567890.
Crème brûlée in São Paulo, Ångström's naïve façade, Øresund, Straße, Dvořák, Łódź.
"""


def train(out: Path = OUT) -> Path:
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS.splitlines()), model_writer=proto,
                                   model_type="unigram", vocab_size=VOCAB_SIZE, hard_vocab_limit=False,
                                   character_coverage=1.0, num_threads=1, minloglevel=2)
    spm_model = model_pb2.ModelProto()
    spm_model.ParseFromString(proto.getvalue())
    # sentencepiece's own first pieces are <unk>, <s>, </s>; fairseq put its four specials first.
    vocab = [(token, 0.0) for token in SPECIAL]
    vocab += [(piece.piece, piece.score) for piece in spm_model.pieces[3:]] + [("<mask>", 0.0)]

    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=SPECIAL.index("<unk>"), byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(spm_model.normalizer_spec.precompiled_charsmap),
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "▁"),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])

    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))
    config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
              "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
              "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {out}: {tokenizer.get_vocab_size()} pieces")
    return out


if __name__ == "__main__":
    train(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
