"""The LLM client (litellm) and everything that asks it: topic names and summaries, paper
summaries, the refine pass, LLM facets."""
