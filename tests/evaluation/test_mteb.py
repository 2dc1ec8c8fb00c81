"""minie5 as an MTEB 2.x encoder, with the real mteb package and no hub: mteb's own mock retrieval
task, and a local task made of the standard-library dataset, on which mteb's nDCG@10 must equal
`minie5 evaluate`'s (both are trec_eval's). Skipped, saying so, where mteb (which needs torch) is
not installed: `pip install torch==2.13.0` then `pip install -e ".[mteb]"`."""

import shutil
import warnings
from pathlib import Path

import pytest

import minie5
from minie5.evaluation import evaluate, load_beir

mteb = pytest.importorskip("mteb", reason="mteb is not installed (the mteb extra, after a CPU torch)")
from datasets import Dataset  # noqa: E402  (mteb's own dependency)
from mteb.abstasks.retrieval import AbsTaskRetrieval  # noqa: E402
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData  # noqa: E402
from mteb.abstasks.task_metadata import TaskMetadata  # noqa: E402
from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask, general_args  # noqa: E402

from minie5.integrations.mteb import Minie5Encoder  # noqa: E402


@pytest.fixture
def stdlib(stdlib_beir):
    return stdlib_beir


def local_task(folder: Path) -> AbsTaskRetrieval:
    """A BEIR folder as an mteb retrieval task, loaded from disk."""
    data = load_beir(folder)

    class StdlibRetrieval(AbsTaskRetrieval):
        metadata = TaskMetadata(type="Retrieval", name="MinieStdlibRetrieval", main_score="ndcg_at_10",
                                **general_args)

        def load_data(self, num_proc=None, **kwargs):
            split = RetrievalSplitData(
                queries=Dataset.from_list([{"id": q, "text": t} for q, t in data.queries.items()]),
                corpus=Dataset.from_list([{"id": d, "title": doc["title"], "text": doc["text"]}
                                          for d, doc in data.corpus.items()]),
                relevant_docs=data.qrels, top_ranked=None)
            self.dataset = {"default": {"test": split}}
            self.data_loaded = True

    return StdlibRetrieval()


def run(encoder, task):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mteb.evaluate(encoder, [task], cache=None, show_progress_bar=False)


def test_mtebs_mock_retrieval_task(minilm_dir):
    result = run(Minie5Encoder("sentence-transformers/all-MiniLM-L6-v2"), MockRetrievalTask()).task_results[0]
    assert 0 < result.get_score() <= 1
    encoder = Minie5Encoder(minilm_dir)
    assert encoder.mteb_model_meta.name == "minie5/model" and encoder.mteb_model_meta.similarity_fn_name == "cosine"


def test_mteb_scores_what_minie5_evaluate_scores(stdlib, minilm_dir):
    model = minie5.load(minilm_dir)
    ours = evaluate(model, load_beir(stdlib))["metrics"]
    result = run(Minie5Encoder(model, mteb_name="sentence-transformers/all-MiniLM-L6-v2"), local_task(stdlib))
    scores = result.task_results[0].scores["test"][0]
    assert scores["ndcg_at_10"] == pytest.approx(ours["nDCG@10"], abs=1e-4)
    assert scores["recall_at_10"] == pytest.approx(ours["recall@10"], abs=1e-4)
    assert result.model_name == "sentence-transformers/all-MiniLM-L6-v2"  # filed under mteb's own ModelMeta


def test_e5_prompts_are_mtebs(minilm_dir, tmp_path):
    folder = tmp_path / "e5-small-v2"
    shutil.copytree(minilm_dir, folder)
    encoder = Minie5Encoder(folder, mteb_name="intfloat/e5-small-v2")
    meta = encoder.mteb_model_meta
    assert meta.name == "intfloat/e5-small-v2" and meta.revision  # the real name and revision
    prompts = encoder.model.prompts
    assert meta.loader_kwargs["model_prompts"] == {"query": prompts.resolve("query"),
                                                   "document": prompts.resolve("document")}
    with pytest.raises(ValueError, match="CPU only"):
        Minie5Encoder(encoder.model, device="cuda")


def test_mtebs_openai_wrapper_against_minie5_serve(minilm_dir):
    """mteb's OpenAIAPIEncodeWrapper, as mteb's docs say to use it with an OpenAI-compatible server
    that is not vLLM (use_chat_template=False): it reads the model's length from /v1/models
    (max_model_len), then sends vLLM's truncate_prompt_tokens with every request."""
    from mteb.models.openai_wrappers import OpenAIAPIEncodeWrapper

    from tests.support.server import running_server

    model = minie5.load(minilm_dir)
    with running_server("--model", minilm_dir, "--served-name", "minilm") as (_, url):
        wrapper = OpenAIAPIEncodeWrapper(url, "minilm", use_chat_template=False)
        assert wrapper.max_length == 256  # detected, so truncate_prompt_tokens goes with every request
        texts = ["how tall is the summit", "trains leave hourly"]
        vectors = wrapper._get_embeddings(texts)
        assert vectors.shape == (2, 384)
        assert abs(vectors - model.encode(texts)).max() < 1e-6
        scores = mteb.evaluate(wrapper, [MockRetrievalTask()], cache=None, show_progress_bar=False)
        direct = run(Minie5Encoder(model), MockRetrievalTask())
        assert scores.task_results[0].get_score() == pytest.approx(direct.task_results[0].get_score(), abs=1e-6)
