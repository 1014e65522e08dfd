"""synthclf: can LLM-generated training data replace or stretch real labelled data?

Reproduces Li et al., *Synthetic Data Generation with Large Language Models for Text
Classification: Potential and Limitations* (EMNLP 2023) as gRPC services.
"""

__version__ = "0.1.0"
