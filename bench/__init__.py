"""``berth bench``: measure Berth against CNCF distribution on this machine.

Development tooling, kept outside the ``berth`` package so the installed wheel holds the
registry only: it runs from a source checkout, as ``scripts/bench`` (``python -m bench``
from the repository root) or ``berth bench`` (which imports it from the checkout when there
is one). See docs/performance.md. Entry points: :func:`bench.runner.run_bench` and the
click command :data:`bench.cli.bench`.
"""
