"""Training machinery shared by the sft, dpo and grpo stages (runs inside worker processes only).

Light modules (guards, metrics, checkpointing, chat_template) import no ML library at module level;
backends, callback and common import torch/transformers/peft inside the worker.
"""
