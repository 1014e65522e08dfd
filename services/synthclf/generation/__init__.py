"""Generation service: synthetic labelled texts from an LLM, zero-shot or few-shot (Li et al. 2023, §3.1)."""
