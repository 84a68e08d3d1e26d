#!/usr/bin/env bash
# One prepared training run on a CUDA machine (for example a GPU lent for a few minutes), from a checkout:
# rebuilds the built-in corpus there (no data travels), fine-tunes a model on the GPU and writes the model
# directory (and its newest checkpoint, to continue from with --resume) into OUT.
#
#   tools/gpu_train.sh texture|sprite STEPS OUT [more `scenegen train` options, e.g. --init-from DIR --decoder-blocks 2]
#
# Without --init-from it fine-tunes the shipped model of that mode. Needs python3 with torch (CUDA), numpy,
# scipy, opencv, pillow, safetensors; nothing is downloaded.
set -euo pipefail
mode=${1:?texture or sprite}; steps=${2:?steps}; out=${3:?output folder}; shift 3
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
data=$(mktemp -d)/corpus
case $mode in
  texture) $py -m scenegen corpus --out "$data"; crop=96 ;;
  sprite) $py -m scenegen corpus --sprites --out "$data"; crop=128 ;;
  *) echo "error: mode must be texture or sprite, got ${mode:0:40}" >&2; exit 2 ;;
esac
$py -m scenegen train --mode "$mode" --device cuda --data "$data" --out "$out" --steps "$steps" --crop "$crop" \
  --checkpoint-every 500 --sample-every 1000 "$@"
