# Every target runs the compiled CLI; `npm run build` compiles src/ to dist/.
NODE ?= node
CLI = $(NODE) dist/src/cli/index.js
MODEL ?= artifacts/mnist-cnn.int8.onnx
ARGS ?=

.PHONY: build data train resume evaluate bench-train report

build:
	npx tsc -p tsconfig.build.json

data: build
	$(CLI) data $(ARGS)

train: build
	mkdir -p artifacts/logs
	$(CLI) train $(ARGS) 2>&1 | tee artifacts/logs/train.log

resume: build
	$(CLI) train --resume $(ARGS) 2>&1 | tee -a artifacts/logs/train.log

evaluate: build
	$(CLI) evaluate --model $(MODEL) $(ARGS)

report: build
	$(CLI) report $(ARGS)

bench-train: build
	$(CLI) bench-train $(ARGS)
