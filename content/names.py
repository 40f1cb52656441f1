"""Human words for the content's internal names, in one place: tags, part headings and option letters.

Pages and the CLI's plain text show these; JSON, CSV and ``--json`` keep the keys. A tag needs no label in the
content: its words are written out, with the field's abbreviations and names spelled as the field spells them.
"""

from __future__ import annotations

from content.reader import TOPIC_PREFIX

DECK_PREFIX = "deck:"  # the tag that puts a drill card's mirror question in its deck (content.catalogue)

# A whole tag (or tag word) written as the field writes it; any other word is written as it is.
SPELLING = {
    "llama-cpp": "llama.cpp", "llm-int8": "LLM.int8()", "kv-cache": "KV cache", "zero-point": "zero point",
    "awq": "AWQ", "gptq": "GPTQ", "gqa": "GQA", "gemm": "GEMM", "kivi": "KIVI", "kvquant": "KVQuant", "kv": "KV",
    "kv4": "KV4", "llm": "LLM", "lora": "LoRA", "qlora": "QLoRA", "mx": "MX", "nf4": "NF4", "obs": "OBS",
    "ptq": "PTQ", "qat": "QAT", "qserve": "QServe", "quarot": "QuaRot", "spinquant": "SpinQuant",
    "smoothquant": "SmoothQuant", "bitnet": "BitNet", "rtn": "RTN", "snr": "SNR", "ste": "STE", "rms": "RMS",
    "rope": "RoPE", "ppl": "PPL", "gpu": "GPU", "cpu": "CPU", "ffn": "FFN", "hadamard": "Hadamard",
    "fp4": "FP4", "fp8": "FP8", "fp16": "FP16", "bf16": "BF16", "int4": "INT4", "int8": "INT8",
    "e4m3": "E4M3", "e5m2": "E5M2", "e2m1": "E2M1", "mxfp4": "MXFP4", "mxfp8": "MXFP8", "nvfp4": "NVFP4",
    "w4": "W4", "w8": "W8", "w4a4": "W4A4", "w4a8": "W4A8", "w8a8": "W8A8", "bitsandbytes": "bitsandbytes",
    "dequant": "dequantization", "quant": "quantization", "fake-quant": "fake quantization",
    "group-wise": "group-wise", "per-channel": "per-channel", "per-token": "per-token", "weight-only": "weight-only",
    "non-uniform": "non-uniform", "fine-tuning": "fine-tuning", "low-bit": "low-bit", "memory-bound": "memory-bound",
    "compute-bound": "compute-bound", "transformer-engine": "Transformer Engine",
}
LOWER_CASE_NAMES = {"llama.cpp", "bitsandbytes"}  # names that keep their lower case at the start of a label


def _words(name: str) -> str:
    """``kv-cache-memory`` -> "KV cache memory": known spellings first (longest run of words), else the word."""
    parts, out = name.split("-"), []
    i = 0
    while i < len(parts):
        for j in range(len(parts), i, -1):
            run = "-".join(parts[i:j])
            if run in SPELLING:
                out.append(SPELLING[run])
                i = j
                break
        else:
            out.append(parts[i])
            i += 1
    text = " ".join(w for w in out if w)
    return text if out and out[0] in LOWER_CASE_NAMES else text[:1].upper() + text[1:]


def tag_label(tag: str, decks: dict[str, str] | None = None) -> str:
    """A tag in words: "formula:kv-cache" -> "KV cache formula", "w4a8" -> "W4A8", "group-wise" -> "Group wise";
    "deck:<slug>" -> the deck's title when ``decks`` (slug -> title) has it."""
    tag = str(tag).strip()
    if tag.startswith(TOPIC_PREFIX):
        return f"{_words(tag[len(TOPIC_PREFIX):])} formula"
    if tag.startswith(DECK_PREFIX):
        slug = tag[len(DECK_PREFIX):]
        return (decks or {}).get(slug) or f"Deck: {_words(slug)}"
    return _words(tag)


def part_label(order: int) -> str:
    """A part's heading from its place in the question ("Part 2"): its key is an id for authors, not a title."""
    return f"Part {int(order) + 1}"


def option_letter(position: int) -> str:
    """The letter of the option at this 1-based position in the order the learner saw: 1 -> "A", 27 -> "AA"."""
    position, letters = int(position), ""
    while position > 0:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
