"""From memories to what the model reads: the recall paths, RRF fusion, MMR packing within a
token budget, the explain trace and telemetry, and the session profile."""
