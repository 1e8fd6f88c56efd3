"""The course's benchmark harness: quality (by the oracle) and speed of every stage's shipped checkpoint.

DESIGN.md, "Measured, not asserted": tests check behaviour, this harness checks quality and speed.
``python -m benchmarks.run --stage all --device cpu`` loads each shipped checkpoint, measures it with
the library's own evaluation functions, and writes ``benchmarks/results/<device>.json`` and the table
in ``benchmarks/README.md``. See ``benchmarks/README.md`` for the figures and what each one means.
"""
