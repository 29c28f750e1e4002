"""PolicyQA's lab: benchmarks, fine-tuning and offline experiments, apart from the
service they measure (``lab`` imports ``service`` and ``ingest``; they never import it)."""
