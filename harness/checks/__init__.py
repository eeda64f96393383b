"""Checks: a registry, the catalogue of record, image and dataset checks, and the runner."""
from harness.checks.findings import SEVERITIES, Finding
from harness.checks.registry import CheckSpec, checks, declare, register

__all__ = ["SEVERITIES", "CheckSpec", "Finding", "checks", "declare", "register"]
