"""Prompts: the text put before each input so that the model knows what kind of text it is.

e5 models were trained with "query: " before the short side of every asymmetric task and
"passage: " before the documents (E5 paper, section 4.2 and appendix); forgetting them is the most
common way to get quietly worse embeddings from an e5 model. Other models name their prompts in
config_sentence_transformers.json (sentence-transformers' `prompts`), and a user may give their own.

A word a user types, "query", "passage" or "document" (sentence-transformers' and MTEB's words),
means one thing everywhere: `Prompts.resolve`, which `Model.encode(prompt_name=...)`,
`encode_query`/`encode_queries`, the CLI's --query/--passage, BatchEmbedder(prefix=...), the
server's `prefix`/`prompt_name` and the LangChain, Chroma and other adapters all call. In order:

    1. a prompt given to `minie5.load(..., prompts={...})`
    2. the model's own config_sentence_transformers.json prompts
    3. e5's "query: " / "passage: ", for a model of the e5 family (judged by its name)
    4. nothing: the texts as given, with one warning that the model declares no such prompt, when
       the name was asked for (encode(prompt_name=...), --query, prefix=); the role methods that
       embed "the queries" and "the documents" on a user's behalf (encode_query, search, the
       LangChain and Chroma adapters) say nothing, as sentence-transformers' encode_query does

"passage" and "document" name the same side, so a model that declares one answers to both. A
prompt is never added twice: a text that already starts with it is left as it is.
"""

from __future__ import annotations

import re
import warnings

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# What the three words mean for an e5 model that ships no prompts of its own.
E5_PROMPTS = {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX, "document": PASSAGE_PREFIX}
ROLES = ("query", "passage", "document")  # the words every front end accepts
SAME_SIDE = {"passage": "document", "document": "passage"}
# The server's and the CLI's word for "no prompt at all".
NO_PROMPT = "none"


class Prompts:
    """One model's prompts: those given at load, those its files declare, and whether it is an e5
    model; `resolve` turns a prompt name into the text to prepend."""

    def __init__(self, given: dict[str, str] | None = None, declared: dict[str, str] | None = None,
                 e5: bool = False, model_name: str = "this model"):
        self.given = check_prompts(given or {}, "prompts")
        self.declared = dict(declared or {})
        self.e5 = e5
        self.model_name = model_name
        self._warned: set[str] = set()

    def names(self) -> list[str]:
        """The names with a prompt of their own (each of "passage" / "document" also answers to the other)."""
        return list(dict.fromkeys([*self.given, *self.declared, *(E5_PROMPTS if self.e5 else ())]))

    def resolve(self, name: str | None, warn: bool = True) -> str | None:
        """The text `name` puts before each text (None for no prompt). A name other than the
        three words that no source declares is refused; one of the three words that none declares
        means no prompt, with one warning per model and name unless `warn` is False."""
        if name is None or name == NO_PROMPT:
            return None
        if not isinstance(name, str):
            raise TypeError(f"prompt_name must be a string, got {type(name).__name__}")
        for source in (self.given, self.declared, E5_PROMPTS if self.e5 else {}):
            for candidate in (name, SAME_SIDE.get(name)):
                if candidate in source:
                    return source[candidate]
        if name not in ROLES:
            known = ", ".join(map(repr, self.names())) or "none"
            raise ValueError(f"prompt_name {name!r} is not one of this model's prompts ({known}), nor one of "
                             f"{', '.join(map(repr, ROLES))}")
        if warn and name not in self._warned:
            self._warned.add(name)
            warnings.warn(f"{self.model_name} declares no {name!r} prompt (not an e5 model, no prompts in "
                          "config_sentence_transformers.json, none given to load(prompts=...)): its texts are "
                          "embedded as given", UserWarning, stacklevel=3)
        return None

    def text(self, prompt_name: str | None = None, prompt: str | None = None) -> str | None:
        """The prompt of an encode call: a name to resolve, or a literal `prompt`, not both."""
        if prompt_name is not None and prompt is not None:
            raise ValueError("pass prompt_name or prompt, not both")
        if prompt is not None and not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        return prompt if prompt is not None else self.resolve(prompt_name)


def check_prompts(prompts, argument: str) -> dict[str, str]:
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items()):
        raise ValueError(f"{argument} must map prompt names to strings, e.g. {{'query': 'query: '}}, got {prompts!r}")
    return dict(prompts)


def with_prompt(texts: list[str], prompt: str | None) -> list[str]:
    """Each text with `prompt` in front, unless it already starts with it (never added twice)."""
    if not prompt:
        return texts
    return [t if t.startswith(prompt) else prompt + t for t in texts]


def is_e5(*names: str) -> bool:
    """Whether a model is an e5 model, trained to see a prefix before every text, judged by its
    names (intfloat/e5-small-v2, multilingual-e5-base, a folder e5-small-v2...)."""
    return bool(re.search(r"(?<![a-z0-9])e5(?![a-z0-9])", " ".join(names).lower()))


def count_bare(texts: list[str]) -> int:
    """How many texts start with neither of e5's prefixes."""
    return sum(1 for t in texts if not t.startswith((QUERY_PREFIX, PASSAGE_PREFIX)))


def bare_texts_warning(bare: int, total: int) -> str:
    return (f"{bare} of {total} texts start with neither {QUERY_PREFIX!r} nor {PASSAGE_PREFIX!r}; e5 "
            "models were trained with them and embed worse without. Use encode_queries / "
            "encode_passages (CLI: --query / --passage), or add them yourself.")
