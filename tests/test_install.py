"""The README's two Quick start commands, in order, in one environment: a regular install, then an
editable one over it. Each must leave a working `minie5`, and the first must write nothing into
site-packages that pip would leave behind (Numba's cache once did, and the empty package folder
it left shadowed the editable install)."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A new virtual environment that borrows this one's dependencies (numpy, numba, tokenizers)
    through a .pth line, so that installing minie5 into it needs no download."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    python = root / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root, Path(site)


def pip_install(python: Path, *args):
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *args],
                   cwd=REPO, check=True, timeout=600, capture_output=True)


def embed(root: Path, minilm_dir: Path, cwd: Path, env: dict):
    result = subprocess.run([str(root / "bin" / "minie5"), "embed", "-m", str(minilm_dir), "--backend", "numpy",
                             "query: summit define"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return np.array(result.stdout.split("[")[1].split("]")[0].split(","), dtype=np.float32)


def test_install_then_editable_install_both_work(venv, minilm_dir, minilm, tmp_path):
    root, site = venv
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    expected = minilm.encode("query: summit define")

    pip_install(root / "bin" / "python", ".")
    np.testing.assert_allclose(embed(root, minilm_dir, tmp_path, env), expected, atol=1e-6)
    assert list((tmp_path / "cache" / "minie5" / "numba").rglob("*.nbi")), "the kernels' cache is in the user's folder"
    assert not list((site / "minie5").rglob("*.nb[ic]")), "nothing of Numba's in site-packages"

    pip_install(root / "bin" / "python", "-e", ".")
    assert not (site / "minie5").exists(), "pip removed the regular install whole"
    np.testing.assert_allclose(embed(root, minilm_dir, tmp_path, env), expected, atol=1e-6)
