"""The documentation site builds with `mkdocs build --strict`: a broken link, a missing page or a
reference mkdocstrings cannot resolve fails it. CI installs the docs extra (.ci/run)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocs_gen_files"):
        pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[docs]' (CI does)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "HF_HUB_OFFLINE": "1", "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    for page in ("index.html", "reference/cli/index.html", "reference/http/index.html",
                 "reference/python/index.html", "performance/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    cli = (tmp_path / "site" / "reference/cli/index.html").read_text()
    assert "minie5 models" in cli and "--vectors" in cli  # generated from today's parsers
    http = (tmp_path / "site" / "reference/http/index.html").read_text()
    for route in ("POST /v1/embeddings", "POST /embed", "POST /v2/rerank", "POST /rerank", "GET /openapi.json"):
        assert f"<code>{route}</code>" in http, route  # a section per route of the server's OpenAPI document
