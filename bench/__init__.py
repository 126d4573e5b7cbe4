"""Side-by-side benchmarks of Jupyter kernels through one lean client (see run.py)."""
