"""Model sources: the embedded model, HF folders, GGUFs, hub ids and run:<id> references."""
