#!/usr/bin/env bash
# Regenerates the Go and Python code of scheduler/planpb/plan.proto.
# Usage: scripts/genproto.sh [GO_OUT_DIR PY_OUT_DIR]  (defaults: in place)
# Needs protoc-gen-go on PATH and grpcio-tools in the Python environment.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
go_out="${1:-$root/scheduler/planpb}"
py_out="${2:-$root/python/slipstream/_proto}"
python="${PYTHON:-$root/.venv/bin/python}"
mkdir -p "$go_out" "$py_out"
"$python" -m grpc_tools.protoc -I "$root/scheduler/planpb" \
  --go_out="$go_out" --go_opt=paths=source_relative \
  --python_out="$py_out" --pyi_out="$py_out" \
  "$root/scheduler/planpb/plan.proto"
