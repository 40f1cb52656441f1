"""Reading and validating the content files under ``fixtures/`` (questions and drill decks). No ORM here.

``read_content(root)`` parses every ``questions/<group>/<slug>.yaml`` and ``drills/<deck>.yaml`` with a YAML
loader that remembers line numbers, checks the schema of ``docs/content.md`` and every answer spec with
``graders.answers.validate_spec``, and returns the parsed content together with every problem found, each as
``path:line: message``. Nothing stops at the first problem: authors see them all at once.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from graders.answers import KINDS, validate_spec

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
CARD_GROUP = "drills"  # the question group of the drill cards mirrored for quizzes (content/catalogue.py)
KEY = re.compile(r"[a-z0-9-]+")
TIERS = ("L1", "L2", "L3")
AUTO_GRADED = tuple(k for k in KINDS if k != "free")
TOPIC_PREFIX = "formula:"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}")  # {{name}}: a parameter's value in a prompt
# the column sizes of quizzes.models (PostgreSQL enforces them; SQLite would not)
MAX_LEN = {"slug": 120, "title": 300, "source": 300, "group": 60, "key": 40}


def card_question_slug(card) -> str:
    """The slug of a drill card's mirror question (a ``drills.models.Card``); "_" is never in an authored
    slug (SLUG)."""
    return f"card_{card.deck.slug}_{card.key}"[:120]


# ----------------------------------------------------------------------------- the schema

QUESTION_KEYS = {  # key: required?
    "slug": True, "title": True, "tier": False, "tags": False, "source": False, "body": True,
    "answer_points": False, "pitfalls": False, "explanation": False, "corrections": False, "sources": False,
    "parts": True,
}
PART_OWN_KEYS = {"key", "prompt", "tags", "explanation"}  # the rest of a part is its answer spec
COMMON_SPEC_KEYS = {"kind", "points", "params"}
SPEC_KEYS = {
    "symbolic": {"expected", "symbols", "test", "form", "form_score", "form_feedback", "misconceptions", "rtol",
                 "where"},
    "numeric": {"answer", "formula", "unit", "rtol", "atol", "misconceptions"},
    "single_choice": {"options"},
    "multiple_choice": {"options", "partial"},
    "ordering": {"options", "order", "partial"},
    "free": set(),
}
MISCONCEPTION_KEYS = {"symbolic": {"id", "expr", "feedback", "score"},
                      "numeric": {"id", "value", "formula", "feedback", "score"}}
OPTION_KEYS = {"id", "text", "correct", "feedback"}
ORDER_OPTION_KEYS = {"id", "text"}
SYMBOL_KEYS = {"domain", "meaning", "latex"}
PARAM_KEYS = {"min", "max", "step", "choices"}
SOURCE_KEYS = {"seed", "section"}
DECK_KEYS = {"deck", "cards"}
DECK_INFO_KEYS = {"slug": True, "title": True, "description": False, "source": False}
CARD_KEYS = {"id": True, "front": True, "back": True, "tags": False, "source": False, "answer": False,
             "corrections": False, "sources": False}
CARD_ANSWER_KINDS = ("numeric", "symbolic")


# ----------------------------------------------------------------------------- YAML with line numbers


class Map(dict):
    """A YAML mapping that remembers where it and each of its keys were (1-based lines)."""

    line: int = 0
    key_lines: dict

    def at(self, key) -> int:
        return self.key_lines.get(key, self.line)


class Seq(list):
    """A YAML sequence that remembers where it and each of its items were."""

    line: int = 0
    item_lines: list

    def at(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """``yaml.SafeLoader`` whose mappings and sequences carry line numbers; duplicate keys are errors. On
    libyaml's parser where PyYAML has it: ten times faster than the pure Python one, with the same marks."""

    def construct_yaml_map(self, node):
        data = Map()
        data.line, data.key_lines = node.start_mark.line + 1, {}
        yield data
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError as exc:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found an unhashable key",
                    key_node.start_mark) from exc
            if key in data:
                raise _DuplicateKey("while constructing a mapping", node.start_mark,
                                    f"found duplicate key {key!r}", key_node.start_mark)
            data[key] = self.construct_object(value_node, deep=True)
            data.key_lines[key] = key_node.start_mark.line + 1

    def construct_yaml_seq(self, node):
        data = Seq()
        data.line = node.start_mark.line + 1
        data.item_lines = [n.start_mark.line + 1 for n in node.value]
        yield data
        data.extend(self.construct_sequence(node, deep=True))


LineLoader.add_constructor("tag:yaml.org,2002:map", LineLoader.construct_yaml_map)
LineLoader.add_constructor("tag:yaml.org,2002:seq", LineLoader.construct_yaml_seq)


def load_yaml(text: str):
    """``yaml.safe_load`` with line numbers (:class:`Map`, :class:`Seq`). Raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=LineLoader)  # noqa: S506  (LineLoader is a SafeLoader)


def plain(value):
    """The same data as built-in dicts and lists (for JSON fields and hashing)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.date):  # YAML reads 2024-05-01 as a date; JSON fields need text
        return value.isoformat()
    return value


# ----------------------------------------------------------------------------- parsed content


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class PartData:
    key: str
    order: int
    kind: str
    prompt: str
    spec: dict  # the answer spec: every key of the part except key, prompt, tags, explanation
    tags: list = field(default_factory=list)
    explanation: str = ""
    line: int = 0

    @property
    def points(self) -> float:
        return float(self.spec.get("points", 1))


@dataclass
class QuestionData:
    slug: str
    group: str
    title: str
    body: str
    path: str
    line: int = 1
    tier: str = ""
    tags: list = field(default_factory=list)
    source: str = ""
    answer_points: list = field(default_factory=list)
    pitfalls: list = field(default_factory=list)
    explanation: str = ""
    corrections: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    parts: list[PartData] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = {
            "slug": self.slug, "group": self.group, "title": self.title, "body": self.body, "tier": self.tier,
            "tags": self.tags, "source": self.source, "answer_points": self.answer_points,
            "pitfalls": self.pitfalls, "explanation": self.explanation, "corrections": self.corrections,
            "parts": [{"key": p.key, "order": p.order, "kind": p.kind, "prompt": p.prompt, "spec": p.spec,
                       "tags": p.tags, "explanation": p.explanation} for p in self.parts],
        }
        if self.sources:  # only when there are some: a question without keeps the hash it had before sources
            data["sources"] = self.sources
        return data

    @property
    def content_hash(self) -> str:
        blob = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def part_topics(self, part: PartData) -> list[str]:
        """The ``formula:<topic>`` tags of a part; a part without its own takes the question's."""
        own = [t[len(TOPIC_PREFIX):] for t in part.tags if t.startswith(TOPIC_PREFIX)]
        return own or [t[len(TOPIC_PREFIX):] for t in self.tags if t.startswith(TOPIC_PREFIX)]


@dataclass
class CardData:
    id: str
    deck: str
    front: str
    back: str
    path: str
    line: int = 0
    tags: list = field(default_factory=list)
    source: str = ""
    answer: dict | None = None
    corrections: list = field(default_factory=list)
    sources: list = field(default_factory=list)


@dataclass
class DeckData:
    slug: str
    title: str
    path: str
    description: str = ""
    source: str = ""
    cards: list[CardData] = field(default_factory=list)


@dataclass
class Content:
    root: Path
    questions: list[QuestionData] = field(default_factory=list)
    decks: list[DeckData] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def cards(self) -> list[CardData]:
        return [c for d in self.decks for c in d.cards]

    @property
    def labs(self) -> list[Path]:
        labs = self.root / "labs"
        return sorted(p for p in labs.iterdir() if (p / "lab.toml").is_file()) if labs.is_dir() else []


# ----------------------------------------------------------------------------- checking helpers


def _type_name(value) -> str:
    """What a YAML value is, in the words of a content author."""
    if value is None:
        return "null"
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


class _Checker:
    def __init__(self, path: str, problems: list[Problem]):
        self.path, self.problems = path, problems

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def keys(self, data: Map, allowed, where: str, required=()) -> None:
        for key in data:
            if key not in allowed:
                self.error(data.at(key), f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
        for key in required:
            if key not in data:
                self.error(data.line, f"{where}: missing required key {key!r}")

    def text(self, data: Map, key: str, where: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            if required and key not in data:
                self.error(data.line, f"{where}: missing required key {key!r}")
            elif required:
                self.error(data.at(key), f"{where}: {key} must not be empty")
            return ""
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(data.at(key), f"{where}: {key} must be text, not {type(value).__name__}")
            return ""
        value = str(value)
        if required and not value.strip():
            self.error(data.at(key), f"{where}: {key} must not be empty")
        return value

    def text_list(self, data: Map, key: str, where: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(data.at(key), f"{where}: {key} must be a list of strings")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                self.error(value.at(i) if isinstance(value, Seq) else data.at(key),
                           f"{where}: {key}[{i}] must be a string, not {type(item).__name__}")
            else:
                out.append(str(item))
        return out

    def sources(self, data: Map, where: str) -> list[str]:
        """``sources:``, a list of non-empty strings (a paper with its section, a spec with its clause, a
        library file)."""
        value = data.get("sources")
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(data.at("sources"), f"{where}: sources must be a list of non-empty strings (a paper with "
                       f"its section, a spec with its clause, a library file), not {_type_name(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            line = value.at(i) if isinstance(value, Seq) else data.at("sources")
            if not isinstance(item, str):
                self.error(line, f"{where}: sources[{i}] must be a string, not {_type_name(item)}")
            elif not item.strip():
                self.error(line, f"{where}: sources[{i}] must not be empty")
            else:
                out.append(item.strip())
        return out

    def source(self, data: Map, where: str) -> str:
        value = data.get("source")
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, Map):
            self.keys(value, SOURCE_KEYS, f"{where}: source", required=("seed",))
            seed = self.text(value, "seed", f"{where}: source")
            section = self.text(value, "section", f"{where}: source")
            return f"{seed} · {section}" if section else seed
        self.error(data.at("source"), f"{where}: source must be a string or {{seed, section}}")
        return ""


def _spec_structure(check: _Checker, spec: Map, kind: str, where: str) -> None:
    """Unknown keys inside an answer spec (validate_spec checks the meaning, this checks the spelling)."""
    check.keys(spec, COMMON_SPEC_KEYS | SPEC_KEYS[kind], where)
    mis = spec.get("misconceptions")
    if mis is not None:
        if not isinstance(mis, list) or kind not in MISCONCEPTION_KEYS:
            check.error(spec.at("misconceptions"), f"{where}: misconceptions must be a list of rules "
                        f"(symbolic and numeric parts only)")
        else:
            for i, m in enumerate(mis):
                line = mis.at(i) if isinstance(mis, Seq) else spec.at("misconceptions")
                if not isinstance(m, Map):
                    check.error(line, f"{where}: misconception {i + 1} must be a mapping")
                    continue
                check.keys(m, MISCONCEPTION_KEYS[kind], f"{where}: misconception {m.get('id', i + 1)!r}",
                           required=("id", "feedback"))
                if "feedback" in m and not str(m.get("feedback") or "").strip():
                    check.error(m.at("feedback"), f"{where}: misconception {m.get('id')!r} needs feedback")
    options = spec.get("options")
    if isinstance(options, list):
        allowed = ORDER_OPTION_KEYS if kind == "ordering" else OPTION_KEYS
        for i, o in enumerate(options):
            line = options.at(i) if isinstance(options, Seq) else spec.at("options")
            if not isinstance(o, Map):
                check.error(line, f"{where}: option {i + 1} must be a mapping {{id, text, ...}}")
                continue
            check.keys(o, allowed, f"{where}: option {o.get('id', i + 1)!r}", required=("id", "text"))
    symbols = spec.get("symbols")
    if isinstance(symbols, Map):
        for name, info in symbols.items():
            if isinstance(info, Map):
                check.keys(info, SYMBOL_KEYS, f"{where}: symbol {name!r}")
    params = spec.get("params")
    if params is not None:
        if not isinstance(params, Map):
            check.error(spec.at("params"), f"{where}: params must be a mapping of name -> {{min, max, step}} "
                        f"or {{choices}}")
        else:
            for name, p in params.items():
                if not isinstance(p, Map):
                    check.error(params.at(name), f"{where}: parameter {name!r} must be a mapping")
                    continue
                check.keys(p, PARAM_KEYS, f"{where}: parameter {name!r}")
                if "choices" not in p and not ("min" in p and "max" in p):
                    check.error(p.line, f"{where}: parameter {name!r} needs min and max, or choices")


def check_spec(check: _Checker, spec: Map, line: int, where: str, kinds=KINDS) -> bool:
    """Structure and meaning of one answer spec; True when it is fine."""
    before = len(check.problems)
    kind = spec.get("kind")
    if kind not in kinds:
        check.error(spec.at("kind"), f"{where}: kind must be one of {', '.join(kinds)}, not {kind!r}")
        return False
    _spec_structure(check, spec, kind, where)
    if len(check.problems) > before:
        return False
    for message in validate_spec(plain(spec)):
        check.error(_problem_line(spec, message, line), f"{where}: {message}")
    return len(check.problems) == before


def _problem_line(spec: Map, message: str, default: int) -> int:
    """The line of the spec key a validate_spec message is about (the part's first line otherwise)."""
    m = re.search(r"misconception '([^']+)'", message)
    mis = spec.get("misconceptions")
    if m and isinstance(mis, Seq):
        for i, rule in enumerate(mis):
            if isinstance(rule, dict) and str(rule.get("id")) == m.group(1):
                return mis.at(i)
    if "does not parse" in message:
        formulas = [(spec.at(k), str(spec[k])) for k in ("expected", "formula", "answer") if k in spec]
        if isinstance(mis, Seq):
            formulas += [(mis.at(i), str(r.get("expr") or r.get("formula") or "")) for i, r in enumerate(mis)
                         if isinstance(r, dict)]
        name = re.search(r"name `([^`]+)`", message)
        for line, text in formulas:
            if name and re.search(rf"(?<![A-Za-z0-9_]){re.escape(name.group(1))}(?![A-Za-z0-9_])", text):
                return line
        if formulas:
            return formulas[0][0]
    hints = [("option", "options"), ("order", "order"), ("param", "params"), ("symbol", "symbols"),
             ("where", "where"), ("points", "points"), ("form", "form"), ("test", "test"), ("unit", "unit"),
             ("rtol", "rtol"), ("atol", "atol"), ("answer", "answer"), ("formula", "formula"),
             ("formula", "expected"), ("key", "expected"), ("key", "formula"), ("key", "answer")]
    for word, key in hints:
        if word in message and key in spec:
            return spec.at(key)
    return default


def _read_mapping(path: Path, check: _Checker, not_a_mapping: str) -> Map | None:
    """A content file's YAML as a line-numbered mapping, or None with the problem recorded at its line."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        check.error(1, f"not UTF-8: {exc}")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        check.error(mark.line + 1 if mark else 1, f"YAML error: {getattr(exc, 'problem', None) or exc}")
        return None
    if not isinstance(data, Map):
        check.error(1, not_a_mapping)
        return None
    return data


# ----------------------------------------------------------------------------- questions


def read_question(path: Path, group: str, rel: str, problems: list[Problem]) -> QuestionData | None:
    check = _Checker(rel, problems)
    before = len(problems)
    data = _read_mapping(path, check, "a question file must be a YAML mapping")
    if data is None:
        return None
    check.keys(data, QUESTION_KEYS, "question", required=[k for k, req in QUESTION_KEYS.items() if req])
    slug = check.text(data, "slug", "question", required=True)
    if slug and not SLUG.fullmatch(slug):
        check.error(data.at("slug"), f"slug {slug!r} must be lowercase words joined by hyphens")
    if slug and slug != path.stem:
        check.error(data.at("slug"), f"slug {slug!r} must equal the file name stem {path.stem!r}")
    if len(group) > MAX_LEN["group"]:
        check.error(1, f"group folder name longer than {MAX_LEN['group']} characters")
    q = QuestionData(slug=slug, group=group, title=check.text(data, "title", "question", required=True),
                     body=check.text(data, "body", "question", required=True), path=rel, line=data.line)
    tier = data.get("tier")
    if tier is None:
        if group == "interview":
            check.error(data.line, "question: tier is required for interview questions (L1, L2 or L3)")
    elif tier not in TIERS:
        check.error(data.at("tier"), f"question: tier must be one of {', '.join(TIERS)}, not {tier!r}")
    else:
        q.tier = tier
    q.tags = check.text_list(data, "tags", "question")
    q.source = check.source(data, "question")
    for name in ("slug", "title", "source"):
        if len(getattr(q, name) if name != "slug" else slug) > MAX_LEN[name]:
            check.error(data.at(name), f"question: {name} is longer than {MAX_LEN[name]} characters")
    q.answer_points = check.text_list(data, "answer_points", "question")
    q.pitfalls = check.text_list(data, "pitfalls", "question")
    q.corrections = check.text_list(data, "corrections", "question")
    q.sources = check.sources(data, "question")
    q.explanation = check.text(data, "explanation", "question")
    parts = data.get("parts")
    if "parts" in data and (not isinstance(parts, list) or not parts):
        check.error(data.at("parts"), "question: parts must be a non-empty list")
        parts = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(parts or []):
        line = parts.at(i) if isinstance(parts, Seq) else data.at("parts")
        if not isinstance(raw, Map):
            check.error(line, f"part {i + 1} must be a mapping")
            continue
        key = check.text(raw, "key", f"part {i + 1}", required=True)
        where = f"part {key or i + 1!r}"
        if key and not KEY.fullmatch(key):
            check.error(raw.at("key"), f"{where}: key must match [a-z0-9-]+")
        if len(key) > MAX_LEN["key"]:
            check.error(raw.at("key"), f"{where}: key is longer than {MAX_LEN['key']} characters")
        if key in seen:
            check.error(raw.at("key"), f"{where}: duplicate part key (first at line {seen[key]})")
        seen.setdefault(key, raw.at("key"))
        spec = Map({k: v for k, v in raw.items() if k not in PART_OWN_KEYS})
        spec.line, spec.key_lines = raw.line, raw.key_lines
        prompt = check.text(raw, "prompt", where, required=True)
        params = raw.get("params") if isinstance(raw.get("params"), dict) else {}
        for name in PLACEHOLDER.findall(prompt):
            if name not in params:
                check.error(raw.at("prompt"), f"{where}: the prompt uses {{{{{name}}}}} but the part has no "
                            f"parameter {name!r}")
        check_spec(check, spec, raw.line, where)
        q.parts.append(PartData(key=key, order=i, kind=str(raw.get("kind", "")), prompt=str(raw.get("prompt") or ""),
                                spec=plain(spec), tags=check.text_list(raw, "tags", where),
                                explanation=check.text(raw, "explanation", where), line=raw.line))
    if group == "interview" and isinstance(parts, list) and parts:
        graded = sum(1 for p in q.parts if p.kind in AUTO_GRADED)
        if graded < 2:
            check.error(data.at("parts"), f"question: an interview question needs at least two auto-graded "
                        f"parts (any kind but free), not {graded}")
    return q if len(problems) == before else None


# ----------------------------------------------------------------------------- drill decks


def read_deck(path: Path, rel: str, problems: list[Problem]) -> DeckData | None:
    check = _Checker(rel, problems)
    before = len(problems)
    data = _read_mapping(path, check, "a deck file must be a YAML mapping {deck: ..., cards: [...]}")
    if data is None:
        return None
    check.keys(data, DECK_KEYS, "deck file", required=DECK_KEYS)
    info = data.get("deck")
    if not isinstance(info, Map):
        if "deck" in data:
            check.error(data.at("deck"), "deck must be a mapping {slug, title, description, source}")
        info = Map()
        info.line, info.key_lines = data.line, {}
    check.keys(info, DECK_INFO_KEYS, "deck", required=[k for k, r in DECK_INFO_KEYS.items() if r])
    slug = check.text(info, "slug", "deck")
    if slug and not SLUG.fullmatch(slug):
        check.error(info.at("slug"), f"deck slug {slug!r} must be lowercase words joined by hyphens")
    if slug and slug != path.stem:
        check.error(info.at("slug"), f"deck slug {slug!r} must equal the file name stem {path.stem!r}")
    deck = DeckData(slug=slug, title=check.text(info, "title", "deck"), path=rel,
                    description=check.text(info, "description", "deck"), source=check.text(info, "source", "deck"))
    cards = data.get("cards")
    if "cards" in data and (not isinstance(cards, list) or not cards):
        check.error(data.at("cards"), "cards must be a non-empty list")
        cards = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(cards or []):
        line = cards.at(i) if isinstance(cards, Seq) else data.at("cards")
        if not isinstance(raw, Map):
            check.error(line, f"card {i + 1} must be a mapping")
            continue
        check.keys(raw, CARD_KEYS, f"card {raw.get('id', i + 1)!r}",
                   required=[k for k, r in CARD_KEYS.items() if r])
        cid = check.text(raw, "id", f"card {i + 1}")
        where = f"card {cid or i + 1!r}"
        if cid and not KEY.fullmatch(cid):
            check.error(raw.at("id"), f"{where}: id must match [a-z0-9-]+")
        if cid in seen:
            check.error(raw.at("id"), f"{where}: duplicate card id (first at line {seen[cid]})")
        seen.setdefault(cid, raw.at("id"))
        card = CardData(id=cid, deck=slug, front=check.text(raw, "front", where, required=True),
                        back=check.text(raw, "back", where, required=True), path=rel, line=raw.line,
                        tags=check.text_list(raw, "tags", where), source=check.source(raw, where),
                        corrections=check.text_list(raw, "corrections", where), sources=check.sources(raw, where))
        answer = raw.get("answer")
        if answer is not None:
            if not isinstance(answer, Map):
                check.error(raw.at("answer"), f"{where}: answer must be an answer spec mapping")
            elif check_spec(check, answer, answer.line, f"{where}: answer", kinds=CARD_ANSWER_KINDS):
                card.answer = plain(answer)
        deck.cards.append(card)
    return deck if len(problems) == before else None


# ----------------------------------------------------------------------------- everything


def read_content(root: Path | str) -> Content:
    """Every question and deck under ``root`` (``fixtures/``), with every problem found."""
    root = Path(root)
    content = Content(root=root)
    problems = content.problems
    base = root.parent

    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(base))
        except ValueError:
            return str(p)

    qdir = root / "questions"
    slugs: dict[str, str] = {}
    if qdir.is_dir():
        for group_dir in sorted(p for p in qdir.iterdir() if p.is_dir()):
            group = group_dir.name
            if not SLUG.fullmatch(group):
                problems.append(Problem(rel(group_dir), 1, "group folder names must be lowercase-hyphenated"))
            if group == CARD_GROUP:
                problems.append(Problem(rel(group_dir), 1, f"the group {CARD_GROUP!r} holds the drill cards' quiz "
                                        "questions (made from fixtures/drills/): choose another folder name"))
            for path in sorted(group_dir.iterdir()):
                if path.suffix == ".yml":
                    problems.append(Problem(rel(path), 1, "question files end in .yaml, not .yml"))
                if path.suffix != ".yaml":
                    continue
                q = read_question(path, group, rel(path), problems)
                if q is None:
                    continue
                if q.slug in slugs:
                    problems.append(Problem(rel(path), q.line, f"slug {q.slug!r} is also used by {slugs[q.slug]}"))
                    continue
                slugs[q.slug] = rel(path)
                content.questions.append(q)
        for path in sorted(qdir.glob("*.yaml")):
            problems.append(Problem(rel(path), 1, "question files live in a group folder: questions/<group>/"))
    ddir = root / "drills"
    card_ids: dict[str, str] = {}
    deck_slugs: set[str] = set()
    if ddir.is_dir():
        for path in sorted(ddir.iterdir()):
            if path.suffix not in (".yaml", ".yml"):
                continue
            deck = read_deck(path, rel(path), problems)
            if deck is None:
                continue
            if deck.slug in deck_slugs:
                problems.append(Problem(rel(path), 1, f"deck slug {deck.slug!r} is used twice"))
                continue
            deck_slugs.add(deck.slug)
            clash = False
            for card in deck.cards:
                if card.id in card_ids:
                    problems.append(Problem(rel(path), card.line,
                                            f"card id {card.id!r} is also used in {card_ids[card.id]}"))
                    clash = True
                card_ids.setdefault(card.id, rel(path))
            if not clash:
                content.decks.append(deck)
    return content


def content_stats(content: Content) -> dict:
    """The counts that ``manage.py content_stats`` prints, computed from the files."""
    by_source: dict[str, int] = {}
    by_tier: dict[str, int] = {}
    by_tier_all: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    topics: set[str] = set()
    n_parts = n_variants = 0
    for q in content.questions:
        by_source[q.group] = by_source.get(q.group, 0) + 1
        if q.tier:
            by_tier_all[q.tier] = by_tier_all.get(q.tier, 0) + 1
            if q.group == "interview":
                by_tier[q.tier] = by_tier.get(q.tier, 0) + 1
        for p in q.parts:
            n_parts += 1
            n_variants += bool(p.spec.get("params"))
            by_kind[p.kind] = by_kind.get(p.kind, 0) + 1
            if p.kind == "symbolic":
                topics.update(q.part_topics(p))
    return {
        "questions": {"total": len(content.questions), "by_source": dict(sorted(by_source.items())),
                      "by_tier": dict(sorted(by_tier.items())),  # the interview questions
                      "by_tier_all": dict(sorted(by_tier_all.items()))},
        "parts": {"total": n_parts, "by_kind": dict(sorted(by_kind.items()))},
        "symbolic_topics": sorted(topics),
        "cards": len(content.cards),
        "cards_with_answers": sum(1 for c in content.cards if c.answer),
        "decks": len(content.decks),
        "labs": len(content.labs),
        "problems": len(content.problems),
        "sources": sum(1 for item in [*content.questions, *content.cards] if item.sources),
        "variants": n_variants,  # parts with per-learner parameters
    }
