"""LoRA adapter merging (PEFT's combination methods), Strategy B's training branches and its comparison report."""
