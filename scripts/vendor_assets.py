"""Fetch the book's offline JavaScript into book/_static/offline/, with each file's licence next to it.

The built book must work with no network, so every script a page needs is a local copy:

    requirejs/require.js            npm requirejs            the AMD loader that ipywidgets and bertviz use
    html-manager/embed-amd.js       npm @jupyter-widgets/html-manager (renders saved widget state)
    html-manager/*.woff2            the Font Awesome 5 fonts that embed-amd.js's CSS asks for
    d3/d3.min.js, jquery/jquery.min.js   the versions bertviz's views are written against
    mathjax/                        npm mathjax: tex-mml-chtml.js, its TeX extensions and CHTML fonts
    reveal/                         npm reveal.js: the session slides' presentation framework
    anywidget/index.js              anywidget's front-end, copied from the installed wheel so that the
                                    JavaScript always matches the Python package that wrote the widget state

Usage (from the repository root):

    .venv/bin/python scripts/vendor_assets.py              # everything; needs `npm` and the npm registry
    .venv/bin/python scripts/vendor_assets.py --anywidget  # only re-copy anywidget from the wheel (no network)

npm packages are fetched with `npm pack NAME@VERSION` (npm checks each tarball's integrity hash) into a
temporary directory. MANIFEST.txt records every vendored file's source and sha256. To upgrade a library,
change its pin in NPM_PINS, run the script, rebuild the book and run the browser tests.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ROOT / "book" / "_static" / "offline"

# name -> exact version. html-manager 1.0.x is the manager for ipywidgets 8 (myst-nb's default is 1.0.6;
# 1.0.15 is the latest 1.0.x); d3 5.7.0 is the version bertviz asks for; jquery 2.2.4 is the last 2.x.
NPM_PINS = {
    "requirejs": "2.3.8",
    "@jupyter-widgets/html-manager": "1.0.15",
    "@fortawesome/fontawesome-free": "5.15.4",  # only for its LICENSE.txt: html-manager bundles these fonts
    "d3": "5.7.0",
    "jquery": "2.2.4",
    "mathjax": "3.2.2",  # Sphinx's default is the jsdelivr URL of mathjax@3
    "reveal.js": "4.6.0",  # the session slides (scripts/course_kit.py slides); nbconvert's template is for 4.x
}

# (npm package, path inside the package) -> path under book/_static/offline/
NPM_FILES = {
    ("requirejs", "require.js"): "requirejs/require.js",
    ("@jupyter-widgets/html-manager", "dist/embed-amd.js"): "html-manager/embed-amd.js",
    # Font Awesome 5.15.4 fonts, named by webpack's content hash; browsers that read woff2 need no other format.
    ("@jupyter-widgets/html-manager", "dist/1551f4f60c37af51121f.woff2"): "html-manager/1551f4f60c37af51121f.woff2",
    ("@jupyter-widgets/html-manager", "dist/7a3337626410ca2f4071.woff2"): "html-manager/7a3337626410ca2f4071.woff2",
    ("@jupyter-widgets/html-manager", "dist/d878b0a6a1144760244f.woff2"): "html-manager/d878b0a6a1144760244f.woff2",
    ("@fortawesome/fontawesome-free", "LICENSE.txt"): "html-manager/LICENSE-fontawesome.txt",
    ("d3", "dist/d3.min.js"): "d3/d3.min.js",
    ("d3", "LICENSE"): "d3/LICENSE",
    ("jquery", "dist/jquery.min.js"): "jquery/jquery.min.js",
    ("jquery", "LICENSE.txt"): "jquery/LICENSE.txt",
    ("mathjax", "es5/tex-mml-chtml.js"): "mathjax/tex-mml-chtml.js",
    ("mathjax", "LICENSE"): "mathjax/LICENSE",
    # reveal.js: the files nbconvert's reveal template asks for, in the package's own layout, and the "white"
    # theme (its font comes from next to it; themes such as "simple" @import Google Fonts). Only the .woff
    # fonts: the theme lists .eot first, which Chromium, Firefox and Safari skip.
    ("reveal.js", "dist/reveal.js"): "reveal/dist/reveal.js",
    ("reveal.js", "dist/reveal.css"): "reveal/dist/reveal.css",
    ("reveal.js", "dist/theme/white.css"): "reveal/dist/theme/white.css",
    ("reveal.js", "plugin/notes/notes.js"): "reveal/plugin/notes/notes.js",
    ("reveal.js", "LICENSE"): "reveal/LICENSE",
    **{("reveal.js", f"dist/theme/fonts/source-sans-pro/{name}"): f"reveal/dist/theme/fonts/source-sans-pro/{name}"
       for name in ("source-sans-pro.css", "LICENSE", "source-sans-pro-regular.woff", "source-sans-pro-italic.woff",
                    "source-sans-pro-semibold.woff", "source-sans-pro-semibolditalic.woff")},
}

# (npm package, folder inside the package) -> folder under book/_static/offline/, copied whole.
# MathJax loads TeX extensions (e.g. \boldsymbol) and its fonts on demand, relative to tex-mml-chtml.js.
# Left out: es5/a11y and es5/sre (4.3 MB), which only the menu's accessibility "explorer" option loads.
NPM_TREES = {
    ("mathjax", "es5/input/tex/extensions"): "mathjax/input/tex/extensions",
    ("mathjax", "es5/output/chtml/fonts/woff-v2"): "mathjax/output/chtml/fonts/woff-v2",
}

# Licences that the npm tarballs do not contain, taken from the installed Python distributions of the same
# projects (html-manager lives in the ipywidgets repository and shares its licence).
WHEEL_LICENCES = {
    ("ipywidgets", "LICENSE"): "html-manager/LICENSE",
    ("anywidget", "LICENSE"): "anywidget/LICENSE",
}

# requirejs's npm package has no LICENSE file; its header says "Copyright jQuery Foundation and other
# contributors. Released under MIT license". This is the MIT licence text with that notice.
REQUIREJS_LICENCE = """\
RequireJS 2.3.8, https://github.com/requirejs/requirejs
Copyright jQuery Foundation and other contributors, https://jquery.org/

The MIT License

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without
limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the
Software, and to permit persons to whom the Software is furnished to do so, subject to the following
conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions
of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED
TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL
THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE.
"""


def _dist_file(dist: str, name: str) -> Path:
    """A file shipped in an installed distribution's metadata or package (e.g. its licence)."""
    files = importlib.metadata.files(dist) or []
    for f in files:
        if f.name == name and ("licenses" in f.parts or f.parts[0].endswith(".dist-info")):
            return Path(f.locate())
    raise SystemExit(f"{dist} has no {name} in its installed metadata")


def anywidget_frontend() -> Path:
    """The AMD build of anywidget's front-end inside the installed wheel."""
    import anywidget

    path = Path(anywidget.__file__).parent / "nbextension" / "index.js"
    if not path.is_file():
        raise SystemExit(f"anywidget {anywidget.__version__} has no {path}; its layout changed")
    return path


def copy_anywidget() -> list[tuple[str, str]]:
    """Copy anywidget's front-end and licence from the installed wheel; return manifest rows."""
    version = importlib.metadata.version("anywidget")
    rows = []
    for source, target in [(anywidget_frontend(), "anywidget/index.js"),
                           (_dist_file("anywidget", "LICENSE"), "anywidget/LICENSE")]:
        dest = OFFLINE / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists() or dest.read_bytes() != source.read_bytes():
            shutil.copyfile(source, dest)
            print(f"updated {dest.relative_to(ROOT)} from anywidget {version}")
        rows.append((target, f"anywidget {version} (Python wheel)"))
    return rows


def npm_pack(name: str, version: str, workdir: Path) -> Path:
    """Download NAME@VERSION with `npm pack` and unpack it; return the package folder."""
    out = subprocess.run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(workdir)],
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    target = workdir / name.replace("/", "__")
    with tarfile.open(workdir / out) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(rows: list[tuple[str, str]]) -> None:
    lines = ["# Vendored by scripts/vendor_assets.py. path, source, sha256.", ""]
    for target, source in sorted(rows):
        lines.append(f"{target}  {source}  {sha256(OFFLINE / target)}")
    (OFFLINE / "MANIFEST.txt").write_text("\n".join(lines) + "\n")


def read_manifest() -> list[tuple[str, str]]:
    path = OFFLINE / "MANIFEST.txt"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            target, source, _ = line.split("  ")
            rows.append((target, source))
    return rows


def vendor_all() -> None:
    if shutil.which("npm") is None:
        raise SystemExit("npm not found: install Node.js (Debian: apt-get install npm)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        packages = {name: npm_pack(name, version, Path(tmp)) for name, version in NPM_PINS.items()}
        for (name, inside), target in NPM_FILES.items():
            dest = OFFLINE / target
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(packages[name] / inside, dest)
            rows.append((target, f"npm {name}@{NPM_PINS[name]}"))
        for (name, inside), target in NPM_TREES.items():
            dest = OFFLINE / target
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(packages[name] / inside, dest)
            rows += [(f.relative_to(OFFLINE).as_posix(), f"npm {name}@{NPM_PINS[name]}")
                     for f in sorted(dest.rglob("*")) if f.is_file()]
    for (dist, name), target in WHEEL_LICENCES.items():
        dest = OFFLINE / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_dist_file(dist, name), dest)
        rows.append((target, f"{dist} {importlib.metadata.version(dist)} (Python wheel)"))
    (OFFLINE / "requirejs" / "LICENSE").write_text(REQUIREJS_LICENCE)
    rows.append(("requirejs/LICENSE", "written from require.js's header"))
    rows = [r for r in rows if not r[0].startswith("anywidget/")] + copy_anywidget()
    write_manifest(rows)
    print(f"vendored {len(rows)} files into {OFFLINE.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anywidget", action="store_true",
                        help="only re-copy anywidget's front-end from the installed wheel (no network)")
    args = parser.parse_args(argv)
    if args.anywidget:
        rows = [r for r in read_manifest() if not r[0].startswith("anywidget/")] + copy_anywidget()
        write_manifest(rows)
    else:
        vendor_all()


if __name__ == "__main__":
    sys.exit(main())
