# scenegen: two commands from a fresh clone.
#   make run    set up .venv and run the main job (the example output, with the shipped default model)
#   make test   set up .venv (+ test tools) and run the whole test suite
# Users with a GPU build of torch: `make run TORCH_SPEC=` keeps the torch already in the environment.

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
PY          := $(VENV)/bin/python
TEXTURE_STEPS ?= 3600
GROW_STEPS ?= 2600
REFINE_STEPS ?= 4000
SPRITE_STEPS  ?= 1000
export PYOPENGL_PLATFORM ?= egl
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: run test setup setup-test engines corpus default-model sprite-model benchmarks blender-addon clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(TORCH_SPEC),$(PY) -m pip install --quiet "$(TORCH_SPEC)")
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

# The Blender add-on's tests run inside Blender's Python module (bpy needs numpy<2): one venv per Blender
# version tested, the newest (5.0) and the oldest LTS the add-on supports (4.2).
.venv-blender/.installed:
	$(PYTHON) -m venv .venv-blender
	.venv-blender/bin/python -m pip install --quiet "bpy==5.0.1" "numpy<2" pytest
	touch $@

.venv-blender42/.installed:
	$(PYTHON) -m venv .venv-blender42
	.venv-blender42/bin/python -m pip install --quiet "bpy==4.2.23" "numpy<2" pytest
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --silent
	touch $@

# Godot 3 and Xvfb for tests/test_engines.py (it imports exported files in Godot headless): installed where
# apt-get runs as root (CI, the project's machines); elsewhere that test skips and says why.
engines:
	@command -v godot3 >/dev/null && command -v xvfb-run >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq godot3 xvfb xauth >/dev/null; } || \
	  echo "note: godot3 / xvfb-run not installed: tests/test_engines.py skips its Godot 3 import test"

setup-test: setup node_modules/.installed .venv-blender/.installed .venv-blender42/.installed engines

run: setup
	$(PY) -m scenegen build examples/meadow/scene.json --out out/meadow

test: setup-test
	$(PY) -m pytest -q --durations=15

# Rebuild the built-in texture training corpus (.cache/corpus/textures).
corpus: setup
	$(PY) -m scenegen corpus

# The shipped texture model (0.7.0): trained from scratch (96² crops, 4 px per latent cell; the 0.4.0 recipe),
# grown to two residual blocks per decoder level and fine-tuned (0.6.0), then refined at a lower learning rate
# (0.7.0; see README; about 5 h on 2 cores).
default-model: corpus
	rm -rf .cache/train-default .cache/train-default-grown .cache/train-default-refined
	$(PY) -m scenegen train --from-scratch --data .cache/corpus/textures --out .cache/train-default --steps $(TEXTURE_STEPS) --batch 8 --crop 96 --seed 0 --kl-weight 1e-4 --checkpoint-every 100 --sample-every 500
	$(PY) -m scenegen train --init-from .cache/train-default --decoder-blocks 2 --data .cache/corpus/textures --out .cache/train-default-grown --steps $(GROW_STEPS) --batch 8 --crop 96 --seed 8 --lr 1e-3 --kl-weight 1e-4 --gram-weight 0.05 --checkpoint-every 100 --sample-every 500
	$(PY) -m scenegen train --init-from .cache/train-default-grown --data .cache/corpus/textures --out .cache/train-default-refined --steps $(REFINE_STEPS) --batch 8 --crop 96 --seed 9 --lr 5e-4 --kl-weight 1e-4 --gram-weight 0.05 --checkpoint-every 100 --sample-every 500
	mkdir -p assets/models/default
	cp .cache/train-default-refined/config.json .cache/train-default-refined/model.safetensors .cache/train-default-refined/prior.safetensors assets/models/default/

# The shipped sprite model (0.4.0): 256² sprites, trained on 128² crops of them, in two stages (400 steps with
# nearest upsampling, then 1000 with bilinear upsampling; about 80 min on 2 cores).
sprite-model: setup
	$(PY) -m scenegen corpus --sprites
	rm -rf .cache/train-sprites-stage1 .cache/train-sprites
	$(PY) -m scenegen train --from-scratch --mode sprite --upsample nearest --data .cache/corpus/sprites --out .cache/train-sprites-stage1 --steps 400 --batch 8 --crop 128 --seed 0 --gram-weight 0.25 --checkpoint-every 100 --sample-every 400
	$(PY) -m scenegen train --mode sprite --init-from .cache/train-sprites-stage1 --upsample bilinear --data .cache/corpus/sprites --out .cache/train-sprites --steps $(SPRITE_STEPS) --batch 8 --crop 128 --seed 1 --lr 1.5e-3 --gram-weight 0.05 --checkpoint-every 100 --sample-every 400
	mkdir -p assets/models/sprites
	cp .cache/train-sprites/config.json .cache/train-sprites/model.safetensors .cache/train-sprites/prior.safetensors assets/models/sprites/

blender-addon:
	$(PYTHON) blender_addon/build_zip.py

benchmarks: setup
	$(PY) benchmarks/texture_quality.py
	$(PY) benchmarks/generate.py
	$(PY) benchmarks/sprites.py
	$(PY) benchmarks/render.py
	$(PY) benchmarks/export.py
	$(PY) benchmarks/cli.py

clean:
	rm -rf out .pytest_cache
