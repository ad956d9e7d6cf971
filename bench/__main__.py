from bench.cli import bench

bench(prog_name="berth bench")
