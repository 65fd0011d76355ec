"""Benchmarks: each figure measures krkn-tui beside a baseline in the same run (`python -m bench`)."""
