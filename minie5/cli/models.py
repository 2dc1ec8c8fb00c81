"""`minie5 models`: the model families minie5 runs, the models this machine has, and whether
minie5 can run a given model, judged from its config.json before any weights are downloaded.

    minie5 models                         families, then the models found here (packages, HF cache)
    minie5 models BAAI/bge-small-en-v1.5  can minie5 run it? (config.json's model_type, architectures)
"""

from __future__ import annotations

import json
from pathlib import Path

from .common import UsageError


def add_parsers(commands) -> None:
    models = commands.add_parser(
        "models", help="the model families minie5 runs, the models found here, and whether it runs a given one",
        description="Without MODEL: the model families minie5 runs (config.json's model_type, as embedder or "
                    "reranker), then the models this machine has (installed packages, the Hugging Face cache) "
                    "and whether minie5 runs each. With MODEL (a folder or a hub name): whether minie5 can run "
                    "it, from its config.json alone: a folder's, a package's or the cache's, else config.json "
                    "alone fetched from the hub (never the weights; not with HF_HUB_OFFLINE=1).")
    models.add_argument("model_name", metavar="MODEL", nargs="?", help="a folder or a Hugging Face model name")
    models.add_argument("--revision", metavar="REV", help="branch, tag or commit of a hub model (default: main)")
    models.add_argument("--json", action="store_true", help="print JSON instead of text")
    models.set_defaults(run=run_models)


def families() -> list[dict]:
    """The model families minie5 runs, from its one table (minie5/families.py): config.json's
    model_type, the family, the transformers class it mirrors, its dtypes, and whether it runs as a
    reranker (where a sequence-classification head is read)."""
    from ..families import FAMILIES

    return [{"model_type": t, "family": f.name, "mirrors": f.mirrors, "dtypes": list(f.dtypes), "embedder": True,
             "reranker": f.head is not None} for f in FAMILIES for t in f.model_types]


def verdict(config: dict) -> dict:
    """Whether minie5 runs a model with this config.json, as what, and if not, why not."""
    model_type = config.get("model_type")
    architectures = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    family = next((f for f in families() if f["model_type"] == model_type), None)
    reranker = any(a.endswith("ForSequenceClassification") for a in architectures)
    out = {"model_type": model_type, "architectures": architectures, "kind": "reranker" if reranker else "embedder"}
    known = ", ".join(f["model_type"] for f in families())
    if family is None:
        return {**out, "runs": False, "why": f"model_type {model_type!r} is not a family minie5 runs ({known})"}
    if reranker and not family["reranker"]:
        return {**out, "runs": False, "why": f"minie5 reads no classification head for {model_type!r}"}
    return {**out, "runs": True, "why": None}


def read_config(folder: Path) -> dict | None:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def check(name: str, revision: str | None) -> dict:
    """What is known about `name` here, and the verdict from its config.json where one can be read
    without downloading weights."""
    from ..loading import hub

    folder, where = None, None
    if not Path(name).expanduser().is_dir() and "/" not in name:  # a short name, as sentence-transformers takes it
        name = f"{hub.ST_ORGANISATION}/{name}"
    result: dict = {"model": name, "revision": revision}
    if Path(name).expanduser().is_dir():
        folder, where = Path(name).expanduser(), "local folder"
    elif revision is None and name in hub.PACKAGED and hub.importlib.util.find_spec(hub.PACKAGED[name]):
        folder, where = hub.resolve(name)
    elif "/" in name and hub._REPO_ID.fullmatch(name):
        cached = hub.find_in_cache(name, revision or "main")
        if cached is not None:
            folder, where = cached, f"Hugging Face cache {hub.hub_cache()}"
        elif hub.offline():
            return {**result, "where": None, "runs": None,
                    "why": f"not here (installed packages, {hub.hub_cache()}) and HF_HUB_OFFLINE is set: cannot "
                           "read its config.json to tell"}
        else:
            try:
                from huggingface_hub import hf_hub_download

                folder = Path(hf_hub_download(name, "config.json", revision=revision)).parent
                where = "config.json fetched from the Hugging Face hub (no weights)"
            except Exception as e:  # no network, no such repository
                reason = (str(e).strip().splitlines() or [""])[0]
                return {**result, "where": None, "runs": None,
                        "why": f"not here, and its config.json could not be fetched ({type(e).__name__}: {reason})"}
    else:
        raise UsageError(f"{name}: no such folder, and not a Hugging Face model name (org/name)")
    config = read_config(folder)
    if config is None:
        return {**result, "where": where, "runs": False, "why": f"{folder}: no readable config.json"}
    weights = (folder / "model.safetensors").is_file()
    return {**result, "where": where, "path": str(folder), "weights_here": weights, **verdict(config)}


def found_here() -> list[dict]:
    """Every model this machine has (installed packages, the Hugging Face cache), each checked."""
    from ..loading import hub

    return [check(name, None) | {"found": where} for name, where in sorted(hub.known_names().items())]


def run_models(args) -> None:
    if args.model_name is not None:
        result = check(args.model_name, args.revision)
        if args.json:
            print(json.dumps(result))
            return
        print(describe(result))
        return
    listing = {"families": families(), "models": found_here()}
    if args.json:
        print(json.dumps(listing))
        return
    print("families minie5 runs (config.json's model_type):")
    for f in listing["families"]:
        reranker = ", reranker (...ForSequenceClassification)" if f["reranker"] else ""
        print(f"  {f['model_type']:<14} {f['family']:<11} embedder{reranker}; mirrors {f['mirrors']}; "
              f"{', '.join(f['dtypes'])}")
    print("\nmodels found here (installed packages, Hugging Face cache):")
    if not listing["models"]:
        print("  none")
    for result in listing["models"]:
        print("  " + describe(result))


def describe(result: dict) -> str:
    name = result["model"]
    if result["runs"] is None:
        return f"{name}: cannot tell: {result['why']}"
    if not result["runs"]:
        return f"{name}: minie5 cannot run it: {result['why']}"
    weights = "" if result.get("weights_here", True) else "; its weights are not here yet"
    return f"{name}: runs, as {'a' if result['kind'] == 'reranker' else 'an'} {result['kind']} " \
           f"({result['model_type']}; {result['where']}{weights})"
