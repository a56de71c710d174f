"""MkDocs hook: KaTeX travels with the site, so formulas render without a network.

The pinned KaTeX release is fetched once from the npm registry as its package
tarball (``npm pack katex@VERSION``, no dependencies, no node_modules), checked
against the registry's sha512, unpacked under ``build/katex/`` and added to the
site under ``assets/katex/``: the script, the stylesheet, the woff2 fonts and
KaTeX's MIT licence. ``docs/javascripts/katex.js`` then renders what
``pymdownx.arithmatex`` (generic mode) leaves in the pages. On a machine
without npm, point ``XPNET_KATEX_TGZ`` at a copy of the tarball.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

VERSION = "0.19.1"
INTEGRITY = (  # `npm view katex@0.19.1 dist.integrity`
    "sha512-jG8uKntjSEcm2EpQOh0XturpPuuC9r3Sq5HLHdsFdWZT27E672SF19QEi+of0/YeOy15lDgRhKvr5614uRrEfA=="
)
CACHE = Path(__file__).resolve().parents[2] / "build" / "katex"
DEST = "assets/katex"


def _wanted(name: str) -> str | None:
    """Where a member of the tarball goes in the site, or None for the rest."""
    path = PurePosixPath(name)
    if path.parts[:1] != ("package",) or ".." in path.parts:
        return None
    rel = PurePosixPath(*path.parts[1:])
    if str(rel) in ("LICENSE", "dist/katex.min.js", "dist/katex.min.css"):
        return rel.name
    if rel.parent == PurePosixPath("dist/fonts") and rel.suffix == ".woff2":
        return f"fonts/{rel.name}"
    return None


def _tarball() -> Path:
    given = os.environ.get("XPNET_KATEX_TGZ")
    if given:
        return Path(given)
    tgz = CACHE / f"katex-{VERSION}.tgz"
    if tgz.exists():
        return tgz
    npm = shutil.which("npm")
    if npm is None:
        raise PluginError(
            f"KaTeX {VERSION} is needed to render formulas and npm is not installed: install "
            f"Node.js and npm, or set XPNET_KATEX_TGZ to a copy of katex-{VERSION}.tgz."
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    command = [npm, "pack", f"katex@{VERSION}", "--pack-destination", str(CACHE), "--silent"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not tgz.exists():
        raise PluginError(f"`{' '.join(command[1:])}` failed: {result.stderr.strip()[-500:]}")
    return tgz


def _unpacked() -> Path:
    """The folder holding the site's KaTeX files, unpacked from the checked tarball once."""
    out = CACHE / f"katex-{VERSION}"
    if out.is_dir():
        return out
    tgz = _tarball()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
    if digest != INTEGRITY:
        raise PluginError(f"{tgz} is not KaTeX {VERSION} as published (its sha512 differs).")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp, tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            dest = _wanted(member.name) if member.isfile() else None
            if dest is not None:
                target = Path(tmp, "files", dest)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
        if not Path(tmp, "files", "katex.min.js").exists():
            raise PluginError(f"{tgz} holds no package/dist/katex.min.js.")
        try:
            Path(tmp, "files").rename(out)
        except OSError:  # another build unpacked it first
            if not out.is_dir():
                raise
    return out


def on_files(files, config):
    """Add KaTeX's files to the site, under assets/katex/."""
    root = _unpacked()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        uri = f"{DEST}/{path.relative_to(root).as_posix()}"
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
