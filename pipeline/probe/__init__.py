"""Quick checkpoint probes for the browser: fixed prompts through each checkpoint, each answer scanned for collapse."""
