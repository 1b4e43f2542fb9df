# The two commands (README): `make demo` and `make test`. Each sets everything up first.
.PHONY: setup demo test bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/livelens demo

test: setup
	.venv/bin/python -m pytest -q -p no:cacheprovider

bench: setup
	.venv/bin/livelens bench pipeline
