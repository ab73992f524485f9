# Every target runs the compiled CLI (dist/); `make build` compiles src/ with tsc.
NODE ?= node
CLI = $(NODE) dist/src/cli/index.js
MODEL ?= artifacts/mnist-cnn.int8.onnx
ARGS ?=
VERSION := $(shell $(NODE) -p "require('./package.json').version")

.PHONY: build data outlier-marks train train-seeds resume evaluate evaluate-tfjs export-onnx fit-digit-score fit-pair-score fit-pair-digits fit-number-calibration report bench-train serve predict bench bench-files evaluate-uploads evaluate-numbers evaluate-corrupted evaluate-images fuzz container-test test lint ci dist clean

build:
	npm run build

data: build
	$(CLI) data $(ARGS)

# Non-digit marks for outlier exposure (~13 minutes), which `train --marks-per-step N` needs; not in the
# default recipe (docs/training.md).
outlier-marks: build
	$(CLI) outlier-marks $(ARGS)

train: build
	mkdir -p artifacts/logs
	$(CLI) train $(ARGS) 2>&1 | tee artifacts/logs/train.log

# The default recipe once per seed; the best by validation accuracy is shipped, every seed is reported.
train-seeds: build
	mkdir -p artifacts/logs
	$(CLI) train --seeds 42 7 1234 $(ARGS) 2>&1 | tee -a artifacts/logs/train-seeds.log

resume: build
	mkdir -p artifacts/logs
	$(CLI) train --resume $(ARGS) 2>&1 | tee -a artifacts/logs/train.log

evaluate: build
	$(CLI) evaluate --model $(MODEL) $(ARGS)

evaluate-tfjs: build
	$(CLI) evaluate --model artifacts/model $(ARGS)

export-onnx: build
	$(CLI) export-onnx $(ARGS)

# The digit-score head (digit or not a digit) on the model's fc1, fitted on the tuned non-digit families;
# replaces the model file and brings its card up to date (~10 minutes).
fit-digit-score: build
	$(CLI) fit-digit-score --model $(MODEL) $(ARGS)

# The pair-score head (one digit or two run together) on the same features, fitted on digits and touching
# pairs; the number reading cuts a lone mark only when it (or the digit score) says so (~9 minutes).
fit-pair-score: build
	$(CLI) fit-pair-score --model $(MODEL) $(ARGS)

# The pair reader (which two digits, "00"-"99", a box of two touching digits holds) on the same features;
# the number reading may read a candidate whole as two digits with it.
fit-pair-digits: build
	$(CLI) fit-pair-digits --model $(MODEL) $(ARGS)

# The map from a number's raw reading probability to a calibrated one, fitted on numbers of MNIST
# validation digits; prints the weights for NUMBER_CALIBRATION (src/predictor/read-number.ts).
fit-number-calibration: build
	$(CLI) fit-number-calibration --model $(MODEL) $(ARGS)

report: build
	$(CLI) report $(ARGS)

bench-train: build
	$(CLI) bench-train $(ARGS)

serve: build
	$(CLI) serve --model $(MODEL) $(ARGS)

predict: build
	$(CLI) predict --model $(MODEL) $(ARGS)

bench: build
	$(CLI) bench --model $(MODEL) $(ARGS)

# predict over a folder of 10,000 PNGs against the engine; memory at 100,000 files; evaluate-images.
bench-files: build
	$(CLI) bench-files --model $(MODEL) $(ARGS)

# Realistic uploads made from MNIST test digits; seed 2 (default) is the held-out set the README reports.
evaluate-uploads: build
	$(CLI) evaluate-uploads --model $(MODEL) $(ARGS)

# Handwritten numbers (2–8 digits, apart or touching) on the same pages; seed 2 (default) is held out.
# 1,000 per set (~7 minutes): on fewer, an ECE of 0.02 cannot be told from sampling noise.
evaluate-numbers: build
	$(CLI) evaluate-numbers --model $(MODEL) $(ARGS)

# The MNIST test digits under 15 kinds of damage (docs/robustness.md), by the model alone and through the server's path.
evaluate-corrupted: build
	$(CLI) evaluate-corrupted --model $(MODEL) $(ARGS)

# Your own labelled images: DIR/<digit>/* or a CSV of path,label (make evaluate-images DIR=my-digits).
evaluate-images: build
	$(CLI) evaluate-images $(DIR) --model $(MODEL) $(ARGS)

# Mutated images posted to a server on 127.0.0.1; mishandled inputs land in test/fixtures/fuzz/.
fuzz: build
	$(CLI) fuzz $(ARGS)

# Builds the image with podman (on a Debian base made here with debootstrap, cached), runs and checks it.
container-test: build
	$(CLI) container-test $(ARGS)

test:
	npm test

lint:
	npm run lint

ci:
	bash .ci/run

dist:
	mkdir -p dist
	git archive --format=tar.gz --prefix=mnist-onnx-$(VERSION)/ -o dist/mnist-onnx-$(VERSION).tar.gz HEAD
	git archive --format=zip --prefix=mnist-onnx-$(VERSION)/ -o dist/mnist-onnx-$(VERSION).zip HEAD
	@echo "dist/mnist-onnx-$(VERSION).tar.gz dist/mnist-onnx-$(VERSION).zip"

clean:
	rm -rf dist coverage
