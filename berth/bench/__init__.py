"""``berth bench``: measure Berth against CNCF distribution on this machine.

See docs/performance.md. Entry points: :func:`berth.bench.cli.run_bench` and the click
command :data:`berth.bench.cli.bench`; ``python -m berth.bench`` runs the same command.
"""
