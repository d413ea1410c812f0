"""Shared instruments every lab uses: timing, plots, profiling, comparison, load, processes."""
