"""Model references an eval compares, checked before anything loads (light: no ML import).

``embedded``, an HF folder, a hub id, ``run:<id>`` / ``run:<id>@best`` / ``run:<id>@checkpoint-010``
(generated with transformers), a ``.gguf`` file (served by pipeline.chat.serve) or an
``http(s)://…`` OpenAI-compatible URL. A bad reference is one ConfigError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config.paths import lookup_runs_dir
from pipeline.config.runref import PREFIX, is_run_ref
from pipeline.errors import ConfigError


@dataclass(frozen=True)
class ModelRef:
    ref: str
    kind: str  # hf | gguf | url
    label: str

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "kind": self.kind, "label": self.label}


def model_label(ref: str) -> str:
    """The label a model carries in an eval report: ``base`` for the embedded model, a run reference
    without ``run:``, a URL without its scheme, else the file or folder name."""
    if ref == "embedded":
        return "base"
    if is_run_ref(ref):
        return ref.removeprefix(PREFIX)
    if ref.startswith(("http://", "https://")):
        return ref.split("://", 1)[1].rstrip("/")
    return Path(ref.rstrip("/")).name.removesuffix(".gguf") or ref


def parse_ref(ref: str, where: str = "eval.models", runs_root: Path | None = None) -> ModelRef:
    ref = ref.strip()
    if not ref:
        raise ConfigError(f"{where}: an empty model reference (expected embedded, run:<id>[@checkpoint], "
                          "an HF folder, a .gguf file or an http(s):// URL)")
    if ref.startswith(("http://", "https://")):
        from pipeline.chat.client import ChatError, normalize_url

        try:
            normalize_url(ref)
        except ChatError as exc:
            raise ConfigError(f"{where}={ref!r}: {exc}") from None
        return ModelRef(ref, "url", model_label(ref))
    if ref == "embedded":
        return ModelRef(ref, "hf", "base")
    if is_run_ref(ref):
        from pipeline.models.runsource import run_checkpoint

        run_checkpoint(runs_root or lookup_runs_dir(), ref, key=where)
        return ModelRef(ref, "hf", model_label(ref))
    p = Path(ref).expanduser()
    if p.suffix == ".gguf" or p.is_file():
        if not p.is_file():
            raise ConfigError(f"{where}={ref!r}: no such file (expected a .gguf model file)")
        if p.suffix != ".gguf":
            raise ConfigError(f"{where}={ref!r}: a file must be a .gguf model (or give an HF folder)")
        return ModelRef(str(p.resolve()), "gguf", model_label(ref))
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ConfigError(f"{where}={ref!r}: folder has no config.json (expected an HF model folder)")
        return ModelRef(str(p.resolve()), "hf", model_label(ref))
    if ref.startswith(("/", ".", "~")) or ref.count("/") != 1:
        raise ConfigError(f"{where}={ref!r}: unknown model reference (expected embedded, run:<id>[@checkpoint], "
                          "an HF folder, a .gguf file, an org/name hub id or an http(s):// URL)")
    return ModelRef(ref, "hf", model_label(ref))


def unique_labels(refs: list[ModelRef]) -> list[ModelRef]:
    seen: dict[str, int] = {}
    out = []
    for r in refs:
        n = seen.get(r.label, 0)
        seen[r.label] = n + 1
        out.append(r if n == 0 else ModelRef(r.ref, r.kind, f"{r.label}#{n + 1}"))
    return out
