"""harness: dry runs and benchmarks for vision-language model training pipelines."""
__version__ = "0.1.0"
