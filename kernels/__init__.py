"""Compiled kernels of the hot path: numpy buffers in, preallocated outputs out; no torch here."""
