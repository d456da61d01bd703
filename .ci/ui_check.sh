#!/usr/bin/env bash
# Build the WebUI script's controls under the Gradio versions the hosts ship:
# 3.41.2 (A1111 1.6-1.10, reForge, Forge Classic) and 4.40.0 (Forge main).
# Each runs in a throwaway virtual environment (Gradio 3 pins old packages; it must not touch
# .venv). Choose versions with UI_CHECK_GRADIO="3.41.2 4.40.0" (the default).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

python=${PYTHON:-python3}
versions=${UI_CHECK_GRADIO:-"3.41.2 4.40.0"}
work=$(mktemp -d "${TMPDIR:-/tmp}/latent-upscale-ui-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

pip_install() {  # quiet pip; hide the notes about this machine's local index folders
  { "$venv/bin/pip" install -q "$@" 2>&1; } | { grep -v "neither a file nor a directory" || true; }
}

for version in $versions; do
  start=$SECONDS
  venv="$work/gradio-$version"
  echo "== Gradio $version"
  "$python" -m venv "$venv"
  # torch first, pinned, so no resolver step pulls another build; then Gradio and the test tools
  pip_install "torch==2.13.0"
  extra=()
  case $version in 4.*) extra=("huggingface_hub<1.0") ;; esac  # gradio 4.40 imports HfFolder
  pip_install "gradio==$version" "${extra[@]}" scipy pytest
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
    tests/test_webui_ui.py
  echo "== Gradio $version: $((SECONDS - start)) s"
done
