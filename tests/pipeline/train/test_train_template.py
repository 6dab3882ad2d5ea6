"""The chat-template guard on the embedded model's real tokenizer (seed 000: wrong or missing template)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.train.chat_template import TemplateError, check_chat_template, load_template_override

LLAMA3 = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
          "{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
          "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
CHATML_NO_EOS = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
RAW = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
DROPS_SYSTEM = ("{% for m in messages %}{% if m['role'] != 'system' %}<|im_start|>{{ m['role'] }}\n"
                "{{ m['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
NOT_PREFIX = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
              "{% if add_generation_prompt %}<|im_start|>bot\n{% endif %}")


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from pipeline.models.resolve import resolve_model
    from pipeline.train.backends import load_tokenizer

    return load_tokenizer(resolve_model("embedded"))


@pytest.fixture
def tok(tokenizer):  # type: ignore[no-untyped-def]
    original = tokenizer.chat_template
    yield tokenizer
    tokenizer.chat_template = original


def test_the_embedded_models_own_template_passes(tok) -> None:  # type: ignore[no-untyped-def]
    rendered = check_chat_template(tok, [tok.eos_token_id])
    assert "<|im_start|>assistant\nABA-ANSWER-q7v<|im_end|>" in rendered


@pytest.mark.parametrize("template, expected", [
    (LLAMA3, "writes '<|end_header_id|>', which this tokenizer splits into"),
    (CHATML_NO_EOS, "the assistant turn does not end with EOS (expected '<|im_end|>'"),
    (RAW, "raw text with no role markers"),
    (DROPS_SYSTEM, "drops the system message's content"),
    (NOT_PREFIX, "is not a prefix of the full conversation"),
    (None, "the tokenizer has no chat template"),
])
def test_broken_templates_are_refused(tok, template: str | None, expected: str) -> None:  # type: ignore[no-untyped-def]
    tok.chat_template = template
    with pytest.raises(TemplateError) as err:
        check_chat_template(tok, [tok.eos_token_id])
    assert expected in str(err.value)


def test_override_from_a_file(tok, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.jinja"
    path.write_text(LLAMA3)
    load_template_override(tok, str(path))
    assert tok.chat_template == LLAMA3
    load_template_override(tok, "auto")
    assert tok.chat_template == LLAMA3  # auto keeps what is there
    with pytest.raises(TemplateError, match="no such file"):
        load_template_override(tok, str(tmp_path / "missing.jinja"))
