"""The one prompt resolver: which text a prompt name puts before each input, in which order of
sources, and what happens when no source declares it."""

import warnings

import pytest

from minie5.encode.prompts import Prompts, with_prompt


def test_sources_in_order_given_then_declared_then_e5():
    e5 = Prompts(e5=True)
    assert (e5.resolve("query"), e5.resolve("passage"), e5.resolve("document")) == ("query: ", "passage: ", "passage: ")
    declared = Prompts(declared={"query": "Q: "}, e5=True)
    assert declared.resolve("query") == "Q: " and declared.resolve("passage") == "passage: "
    given = Prompts(given={"query": "G: "}, declared={"query": "Q: "}, e5=True)
    assert given.resolve("query") == "G: "


def test_passage_and_document_are_one_side():
    assert Prompts(declared={"document": "D: "}).resolve("passage") == "D: "
    assert Prompts(given={"passage": "P: "}).resolve("document") == "P: "


def test_no_prompt_at_all():
    prompts = Prompts(model_name="some/model")
    assert prompts.resolve(None) is None and prompts.resolve("none") is None
    with pytest.warns(UserWarning, match="some/model declares no 'query' prompt"):
        assert prompts.resolve("query") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert prompts.resolve("query") is None  # said once per model and name


def test_other_names_must_be_declared():
    prompts = Prompts(declared={"classification": "Classify: "})
    assert prompts.resolve("classification") == "Classify: "
    with pytest.raises(ValueError, match=r"'clustering' is not one of this model's prompts \('classification'\)"):
        prompts.resolve("clustering")
    with pytest.raises(TypeError, match="prompt_name must be a string"):
        prompts.resolve(3)
    with pytest.raises(ValueError, match="not both"):
        prompts.text("query", "q: ")


def test_never_added_twice():
    assert with_prompt(["a", "query: b"], "query: ") == ["query: a", "query: b"]
    assert with_prompt(["a"], None) == ["a"] and with_prompt(["a"], "") == ["a"]
