"""Reading a ``/metrics`` page (the Prometheus text format) in tests and benchmarks."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

Labels = tuple[tuple[str, str], ...]


def parse(text: str) -> list[Sample]:
    """Every sample of the page, in its order."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def samples(text: str) -> dict[tuple[str, Labels], float]:
    """Every sample's value, by its name and its labels (as sorted pairs)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in parse(text)}


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """The values of the samples called ``name``, by the value of their ``label``."""
    return {s.labels[label]: s.value for s in parse(text) if s.name == name}
