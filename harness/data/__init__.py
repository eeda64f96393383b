"""Datasets in LLaVA format: the folder layout, records, and safe image paths."""
from harness.data.layout import DatasetPaths, resolve_dataset
from harness.data.records import Dataset, Record, load_dataset

__all__ = ["Dataset", "DatasetPaths", "Record", "load_dataset", "resolve_dataset"]
