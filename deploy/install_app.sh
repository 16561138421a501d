#!/bin/sh
# Install the service into a fresh virtualenv from a source tree: the one recipe the image and the
# fresh-venv test both run (Dockerfile.production, tests/deploy/test_image_recipe.py).
# Usage: deploy/install_app.sh VENV_DIR [SOURCE_DIR]
set -eu
venv=${1:?usage: install_app.sh VENV_DIR [SOURCE_DIR]}
src=${2:-.}
command -v python3 >/dev/null || { echo "install_app: python3 (3.11) is required" >&2; exit 1; }
for required in requirements-production.txt deploy/build-requirements.txt pyproject.toml app; do
    test -e "$src/$required" || { echo "install_app: $src/$required is missing" >&2; exit 1; }
done
echo "==> virtualenv $venv"
python3 -m venv "$venv"
echo "==> pinned dependencies, every file checked against its hash"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: \
    -r "$src/requirements-production.txt"
# setuptools is the build backend only: hash-pinned, used without build isolation (which would fetch an
# unpinned copy), and removed again so the runtime carries no build tool.
echo "==> the service itself (no dependencies resolved here)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: \
    -r "$src/deploy/build-requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation "$src"
"$venv/bin/python" -m pip uninstall --quiet --yes setuptools
"$venv/bin/python" -m pip check
echo "==> installed: $("$venv/bin/python" -m app --version)"
