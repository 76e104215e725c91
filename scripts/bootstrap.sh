# Sourced by run_all.sh and run_tests.sh: activate a virtual environment with the project installed.
# Uses the active one if any; otherwise creates .venv with the python3 on PATH (3.10 or newer).
# LAT_NO_INSTALL=1: the python3 on PATH already has what the project needs (a GPU machine with its wheels
# carried, bench/gpu_notebooks.sh); nothing is created or installed.
if [ "${LAT_NO_INSTALL:-0}" = 1 ]; then
  return 0 2>/dev/null || exit 0
fi
if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "Creating the virtual environment .venv ..."
    python3 -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi
stamp=".venv-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$VIRTUAL_ENV/$stamp" ]; then
  echo "Installing lat_utils and its dependencies into $VIRTUAL_ENV (first run: a few minutes) ..."
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".[test]"
  python -m ipykernel install --sys-prefix --name python3 >/dev/null
  touch "$VIRTUAL_ENV/$stamp"
fi
