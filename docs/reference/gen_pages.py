"""Reference pages generated from the code at build time (mkdocs-gen-files), never written twice:
the command line from its argparse parsers, the HTTP API from the server's own OpenAPI document
(built for the packaged all-MiniLM-L6-v2 with the server's default limits)."""

from __future__ import annotations

import argparse
import json
import os


def cli_reference() -> str:
    """Every command's --help, as argparse prints it."""
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal's width: one width for the page
    from minie5.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = ["# Command line reference\n",
           "Generated from `minie5`'s own argument parsers (`minie5 COMMAND --help` prints the same). "
           "The [command-line guide](../guides/cli.md) shows them at work.\n",
           "```text", parser.format_help().rstrip(), "```\n"]
    for name, sub in commands.choices.items():
        out += [f"## minie5 {name}\n", "```text", sub.format_help().rstrip(), "```\n"]
    return "\n".join(out)


def openapi() -> dict:
    """The OpenAPI document `minie5 serve` serves at /openapi.json, for a server of an embedder (the
    packaged all-MiniLM-L6-v2) and a cross-encoder (the test suite's seeded random one, which has
    ms-marco-MiniLM-L-6-v2's architecture: the document depends on the kinds served, not the weights)."""
    import sys
    import tempfile
    from pathlib import Path

    import minie5
    from minie5.server.openapi import openapi_document
    from minie5.server.service import Service
    from minie5.server.settings import ServerSettings

    repo = Path(__file__).resolve().parents[2]
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from tests.support import golden

    embedder = minie5.load("sentence-transformers/all-MiniLM-L6-v2", backend="numpy")
    with tempfile.TemporaryDirectory() as folder:
        reranker = minie5.load_reranker(golden.build_random(Path(folder), golden.load_fixture("reranker-random")),
                                        backend="numpy")
    return openapi_document(Service([embedder, reranker], ["all-MiniLM-L6-v2", "reranker"], ServerSettings()))


def _type(schema: dict) -> str:
    if "$ref" in schema:
        return f"[{schema['$ref'].rsplit('/', 1)[-1]}](#{schema['$ref'].rsplit('/', 1)[-1].lower()})"
    if "oneOf" in schema:
        return " or ".join(_type(s) for s in schema["oneOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        kind = f"array of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        kind += " (" + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"]) + ")"
    limits = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "minItems", "maxItems") if k in schema]
    return kind + (f", {', '.join(limits)}" if limits else "")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def http_reference() -> str:
    """The routes, their requests and answers, and every schema, from the OpenAPI document."""
    document = openapi()
    out = ["# HTTP API reference\n",
           f"Generated from the OpenAPI {document['openapi']} document that `minie5 serve` publishes at "
           "`/openapi.json` (here for a server of an embedder, all-MiniLM-L6-v2, and a cross-encoder, with the "
           "default limits; a running server's document states its own models and limits). The "
           "[server guide](../guides/server.md) explains the protocols.\n"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            out.append(f"## `{method.upper()} {path}`\n")
            if operation.get("summary"):
                out.append(_cell(operation["summary"]) + "\n")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                out.append(f"Request: {_type(body)}\n")
            out += ["| status | answer |", "|---|---|"]
            for status, response in operation["responses"].items():
                schema = next(iter(response.get("content", {}).values()), {}).get("schema")
                answer = _cell(response.get("description", "")) + (f" ({_type(schema)})" if schema else "")
                out.append(f"| {status} | {answer} |")
            out.append("")
    out.append("## Schemas\n")
    for name, schema in document["components"]["schemas"].items():
        out.append(f"### {name}\n")
        if schema.get("description"):
            out.append(_cell(schema["description"]) + "\n")
        properties = schema.get("properties")
        if properties:
            required = set(schema.get("required", []))
            out += ["| field | type | required | description |", "|---|---|---|---|"]
            for field, spec in properties.items():
                out.append(f"| `{field}` | {_cell(_type(spec))} | {'yes' if field in required else ''} | "
                           f"{_cell(spec.get('description', ''))} |")
            out.append("")
        else:
            out.append(f"{_cell(_type(schema))}\n")
    out += ["## The document itself\n", "??? note \"openapi.json\"", "    ```json",
            *("    " + line for line in json.dumps(document, indent=1).splitlines()), "    ```", ""]
    return "\n".join(out)


if __name__ == "<run_path>":  # run by mkdocs-gen-files during `mkdocs build`
    import mkdocs_gen_files

    with mkdocs_gen_files.open("reference/cli.md", "w") as page:
        page.write(cli_reference())
    with mkdocs_gen_files.open("reference/http.md", "w") as page:
        page.write(http_reference())
