"""Post-training in the toolchain: loss-masked LoRA SFT that teaches the shipped model the
template's think block and tool calls (``python -m export.posttrain sft``).

data.py builds the seeded dataset, sft.py trains and merges the adapter, run.py ties them
together and writes the adapter with its recipe and training log.
"""
