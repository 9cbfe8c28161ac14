"""Does a passage back an answer sentence? Meaning, not just shared words.

A language model that has read "signed in Lisbon on Monday by 12 countries" can write "signed
in Madrid", "on Friday", "by 14 countries", "was not signed" or add "later cancelled by the
United Nations", and every one of those shares most of its words with the passage. So a
sentence is backed only when:

* **the facts agree** (:func:`disagreement`, hand-set and closed-class): every name (a
  capitalised word), weekday, month and number it states is in the cited passages; it is not
  negated where the passage is not, nor plain where the passage negates the same word; it does
  not use one word of an opposite pair ("rose") where the passage holds the other ("fell");
  it does not repeat itself, link somewhere the passages do not, or echo an instruction;
* **and the rest of it is there** (:class:`SupportModel`, learned): a LightGBM over how much
  of the sentence its passages hold, where the missing words sit (an added clause is a run of
  them at the end) and the embedding cosine to the closest passage sentence, trained on
  sentences of the training split's articles and perturbations of them
  (``python -m eval.train_claim_check``; ``rag/models/claim-check``).

Sentences of a passage that address a language model ("Ignore previous instructions…") are
never evidence: an article can hold them, and a reply that echoes them is not backed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from index.chunk import sentence_spans
from index.tokenize import STOPWORDS, stem, terms, tokenizer_signature

BUNDLED = Path(__file__).parent / "models" / "claim-check"
FORMAT = "newsdesk-claim-check/2"
MODEL_FILE = "model.txt"
# The folder's files, each with its SHA-256 in the manifest.
FILES = (MODEL_FILE, "model.onnx", "tokenizer.json")
# Word pieces of (claim, passage sentences) the cross-encoder reads.
CE_MAX_TOKENS = 160

# The learned features, in the order the model reads them.
FEATURES = ("share", "unsupported", "run", "tail", "window_share", "dense", "terms", "swapped", "added", "ce")

# A sentence-initial capitalised word is a name (and must be in the passage) when fewer than this
# share of news articles hold it: "Madrid" (0.007), "Hasanov" (0) are; "Officials" (0.37),
# "China" (0.08) may just open a sentence. Mid-sentence capitals are always checked.
NAME_SHARE = 0.02
# Letters of a stem that say two spellings name one thing ("Azerbaijan", "Azerbaijani's").
NAME_KEY = 6
# Small words that may sit inside a name whose initials make an acronym ("Bank of England").
_NAME_JOINERS = frozenset({"of", "the", "for", "and", "de"})
# Words of a claim a second passage sentence must hold to be read with the closest one.
MERGED = 2
# Missing words after which the rest of a claim counts as its tail (an added clause sits there).
TAIL_FROM = 0.6

_WORD = re.compile(r"[^\W_][\w'’\-]*", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_URL = re.compile(r"(?:\]\(\s*|\b)((?:[a-z][a-z0-9+.-]*):[^\s)\]]+)", re.IGNORECASE)
_NAME_PARTS = re.compile(r"[-'’]")
_SCHEME_WORDS = frozenset({"http", "https", "javascript", "data", "vbscript", "file", "mailto"})

WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
MONTHS = frozenset("""january february march april may june july august september october november
december jan feb mar apr jun jul aug sep sept oct nov dec""".split())
_UNITS = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split()
_UNITS += "sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = {w: str(i) for i, w in enumerate(_UNITS, 1)} | {w: str(20 + 10 * i) for i, w in enumerate(_TENS)}
NUMBER_WORDS |= {"dozen": "12", "half": "1/2", "halved": "1/2", "third": "1/3", "thirds": "1/3", "quarter": "1/4",
                 "quarters": "1/4", "twice": "x2", "double": "x2", "doubled": "x2", "triple": "x3",
                 "tripled": "x3"}
NUMBER_STEMS = {stem(w): v for w, v in NUMBER_WORDS.items()}
# "one" is too often not a count ("one of the", "no one") to be held to the passage.
_NOT_COUNTS = frozenset({"one"})

NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot without".split())
# Words that negate what follows them in a passage: "failed to pass" backs "did not pass".
_NEGATING_STEMS = frozenset(stem(w) for w in "fail refuse decline deny reject unable lack absent halt block".split())
# Opposite pairs, stemmed: a claim holding one where its passage holds the other says the reverse.
OPPOSITE_PAIRS = [
    ("rise", "fall"), ("rose", "fell"), ("increase", "decrease"), ("up", "down"), ("higher", "lower"),
    ("more", "fewer"), ("more", "less"), ("gain", "loss"), ("win", "lose"), ("won", "lost"),
    ("victory", "defeat"), ("approve", "reject"), ("accept", "reject"), ("support", "oppose"),
    ("allow", "ban"), ("open", "close"), ("start", "end"), ("begin", "end"), ("before", "after"),
    ("above", "below"), ("add", "cut"), ("raise", "cut"), ("raise", "lower"), ("strengthen", "weaken"),
    ("expand", "shrink"), ("profit", "loss"), ("guilty", "innocent"), ("acquit", "convict"),
    ("confirm", "deny"), ("survive", "die"), ("alive", "dead"), ("buy", "sell"), ("bought", "sold"),
    ("import", "export"), ("hire", "fire"), ("join", "leave"), ("arrive", "depart"), ("pass", "fail"),
    ("earlier", "later"), ("first", "last"), ("largest", "smallest"), ("highest", "lowest"),
    ("best", "worst"), ("north", "south"), ("east", "west"), ("men", "women"), ("male", "female"),
    ("domestic", "foreign"), ("public", "private"), ("success", "failure"), ("strong", "weak"),
    ("old", "new"), ("oldest", "newest"), ("maximum", "minimum"), ("majority", "minority"),
    ("beat", "lose"), ("beat", "lost"), ("defeat", "beat"), ("agree", "disagree"), ("allow", "prevent"),
    ("allow", "block"), ("include", "exclude"), ("legal", "illegal"), ("positive", "negative"),
    ("optimistic", "pessimistic"), ("present", "absent"), ("rich", "poor"), ("safe", "dangerous"),
    ("true", "false"), ("valid", "invalid"), ("young", "old"), ("younger", "older"), ("cheap", "expensive"),
    ("early", "late"), ("fast", "slow"), ("full", "empty"), ("easy", "hard"), ("high", "low"), ("large", "small"),
    ("long", "short"), ("major", "minor"), ("increase", "reduce"), ("increase", "cut"), ("raise", "reduce"),
    ("boost", "cut"), ("grow", "shrink"), ("growth", "decline"), ("improve", "worsen"), ("surplus", "deficit"),
    ("impose", "lift"), ("convict", "acquit"), ("guilty", "acquitted"), ("peace", "war"), ("ally", "enemy"),
    ("resume", "suspend"), ("resume", "halt"), ("upgrade", "downgrade"), ("approve", "veto"), ("ratify", "reject"),
    ("admit", "deny"), ("succeed", "fail"), ("keep", "lose"), ("hold", "lose"), ("gain", "drop"), ("rise", "drop"),
    ("climb", "fall"), ("climb", "drop"), ("jump", "fall"), ("surge", "plunge"), ("soar", "plunge"),
    ("over", "under"), ("inside", "outside"), ("internal", "external"), ("advance", "retreat"),
    ("finish", "start"), ("shut", "open"), ("enter", "leave"), ("win", "defeat"), ("winner", "loser"),
    ("welcome", "condemn"), ("praise", "criticise"), ("praise", "criticize"), ("support", "against"),
    ("remain", "leave"), ("stay", "leave"), ("stay", "rise"), ("stay", "fall"),
    ("free", "paid"), ("import", "export"), ("buyer", "seller"), ("lender", "borrower"), ("employer", "employee"),
]
OPPOSITE: dict[str, set[str]] = {}
for _a, _b in OPPOSITE_PAIRS:
    OPPOSITE.setdefault(stem(_a), set()).add(stem(_b))
    OPPOSITE.setdefault(stem(_b), set()).add(stem(_a))

# A passage sentence written to a language model rather than to a reader.
INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|preceding)"
    r"|\b(?:system|developer)\s+prompt\b|\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot)\b"
    r"|\b(?:tell|inform|remind)\s+the\s+user\b|\bas\s+an\s+ai\b|\b(?:assistant|ai|model)\s*:\s"
    r"|\b(?:respond|reply|answer)\s+(?:only\s+)?(?:with|that)\b|\bnew\s+instructions?\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """Whether ``sentence`` addresses a language model (an injected instruction, never evidence)."""
    return bool(INSTRUCTION.search(sentence))


def numbers_in(text: str) -> set[str]:
    """The numbers ``text`` states, normalised: "1,200" -> "1200", "07" -> "7", "twelve" -> "12"."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    out = {n.lstrip("0") or "0" if n.isdigit() else n for n in found}
    for word in _WORD.findall(text.lower()):
        parts = word.split("-")
        if len(parts) == 2 and parts[0] in _TENS and parts[1] in _UNITS[:9]:  # "twenty-five"
            out.add(str(int(NUMBER_WORDS[parts[0]]) + int(NUMBER_WORDS[parts[1]])))
        elif word in NUMBER_WORDS and word not in _NOT_COUNTS:
            out.add(NUMBER_WORDS[word])
    return out


@dataclass(frozen=True)
class _Token:
    text: str
    stem: str
    start: int  # character offset


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.group(), stem(m.group().strip("'’-")), m.start()) for m in _WORD.finditer(text)]


def _negated(tokens: list[_Token], i: int) -> bool:
    """Whether a negation stands within the two words before ``tokens[i]`` ("was not signed")."""
    return any(_is_negation(t) for t in tokens[max(0, i - 3): i])


def _is_negation(token: _Token) -> bool:
    low = token.text.lower()
    return low in NEGATIONS or low.endswith(("n't", "n’t"))


@dataclass(frozen=True)
class Evidence:
    """What a claim is checked against: the text of its cited passages (instruction sentences
    left out), their titles, and the passage sentence closest to the claim."""

    text: str
    titles: str
    sentence: str  # the closest passage sentence (two, when the claim tells two as one), for word-level checks
    dense: float = math.nan  # the claim's best cosine to a passage sentence; NaN without an embedder

    @cached_property
    def stems(self) -> frozenset[str]:
        return frozenset(t.stem for t in _tokens(f"{self.titles} {self.text}"))

    @cached_property
    def terms(self) -> frozenset[str]:
        return frozenset(terms(f"{self.titles} {self.text}"))

    @cached_property
    def numbers(self) -> set[str]:
        return numbers_in(f"{self.titles} {self.text}")

    def holds(self, term: str) -> bool:
        """Whether the evidence holds ``term`` (a stemmed term; "twelv" is held by "12")."""
        return term in self.terms or NUMBER_STEMS.get(term, "") in self.numbers


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (at least one)."""
    return [text[s:e] for s, e in sentence_spans(text)] or [text]


def evidence_for(claim: str, passages: Sequence[str], titles: Sequence[str] = (), *,
                 dense: float = math.nan) -> Evidence:
    """The evidence ``passages`` give ``claim``: their sentences that address no model, and the
    one sharing most of the claim's words."""
    kept = [s for p in passages for s in split_sentences(p) if not is_instruction(s)]
    wanted = set(terms(claim))
    held = [wanted & set(terms(s)) for s in kept]
    if not kept:
        return Evidence(text="", titles=" ".join(titles), sentence="", dense=dense)
    first = max(range(len(kept)), key=lambda i: len(held[i]))
    # A claim that tells two sentences as one is read against both, in the passage's order.
    rest = wanted - held[first]
    second = max((i for i in range(len(kept)) if i != first), key=lambda i: len(rest & held[i]), default=None)
    chosen = sorted({first} | ({second} if second is not None and len(rest & held[second]) >= MERGED else set()))
    return Evidence(text=" ".join(kept), titles=" ".join(titles), sentence=" ".join(kept[i] for i in chosen),
                    dense=dense)


def _name_share(word: str, share) -> float:  # noqa: ANN001 - a callable term -> share of news articles
    held = terms(word)
    return min((share(t) for t in held), default=1.0)


def _key(stem_: str) -> str:
    """What two spellings of one name share: "azerbaijan" and "azerbaijani" both give "azerba"."""
    return stem_[:NAME_KEY]


def _acronyms(text: str) -> set[str]:
    """Initials of the runs of capitalised words in ``text``: "European Union" gives "eu"."""
    out: set[str] = set()
    run: list[str] = []
    for word in [*_WORD.findall(text), "."]:
        if word[:1].isupper():
            run.append(word[0].lower())
            continue
        if word.lower() in _NAME_JOINERS and run:
            continue
        for i in range(len(run)):
            for j in range(i + 2, min(len(run), i + 6) + 1):
                out.add("".join(run[i:j]))
        run = []
    return out


@dataclass(frozen=True)
class _Names:
    """How a text writes its names, for matching another text's spelling of them."""

    keys: frozenset[str]
    acronyms: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Names:
        words = [w for t in _tokens(text) for w in (t.text, *_NAME_PARTS.split(t.text))]
        return cls(frozenset(_key(stem(w)) for w in words if w), frozenset(_acronyms(text)))

    def holds(self, word: str) -> bool:
        """Whether the text names ``word`` (as written, as a variant sharing its stem's start, or
        as the initials of its words: "EU" for "European Union")."""
        parts = [p for p in _NAME_PARTS.split(word) if p[:1].isupper() and p.lower() not in STOPWORDS]
        for part in parts or [word]:
            low = part.lower()
            if _key(stem(part)) in self.keys or (part.isupper() and low in self.acronyms):
                continue
            return False
        return True


def _is_name(tokens: list[_Token], i: int, claim: str, share) -> bool:  # noqa: ANN001
    """Whether ``tokens[i]`` names someone or something (a capitalised word that is no common word
    opening the sentence)."""
    tok = tokens[i]
    low = tok.text.lower()
    if not tok.text[0].isupper() or low in STOPWORDS or low in NEGATIONS or numbers_in(low) or not terms(tok.text):
        return False
    first = i == 0 or claim[tokens[i - 1].start:tok.start].strip()[-1:] in {":", '"', "“", "(", "—"}
    return not (first and share is not None and _name_share(tok.text, share) >= NAME_SHARE)


def _calendar(token: _Token) -> bool:
    return token.text.lower() in WEEKDAYS or token.text.lower() in MONTHS


def _content(tokens: list[_Token]) -> list[_Token]:
    """The words that carry a claim: no stop words, except negations and one side of an opposite pair."""
    return [t for t in tokens if t.text.lower() not in STOPWORDS or _is_negation(t) or t.stem in OPPOSITE]


def _replacements(claim: list[_Token], sentence: list[_Token]) -> list[tuple[list[_Token], list[_Token]]]:
    """Where the claim puts other words in the place of the sentence's: (claim side, sentence side)
    of each replaced stretch when the two are aligned word by word."""
    a, b = _content(claim), _content(sentence)
    ops = SequenceMatcher(None, [_key(t.stem) for t in a], [_key(t.stem) for t in b], autojunk=False).get_opcodes()
    return [(a[i1:i2], b[j1:j2]) for op, i1, i2, j1, j2 in ops if op == "replace"]


def disagreement(claim: str, evidence: Evidence, *, share=None) -> str | None:  # noqa: ANN001
    """Why ``claim`` states a fact its evidence does not (a name, day, number, negation, opposite,
    repetition, link), or None. ``share`` gives the share of news articles holding a term
    (:meth:`rag.idf_prior.IdfPrior.share`); without it every capitalised word counts as a name."""
    tokens = _tokens(claim)
    if not tokens:
        return None
    missing_numbers = sorted(numbers_in(claim) - evidence.numbers)
    if missing_numbers:
        return f"{', '.join(missing_numbers)} is not there"
    names = _Names.of(f"{evidence.titles} {evidence.text}")
    for i, tok in enumerate(tokens):
        low = tok.text.lower()
        if low in WEEKDAYS or (low in MONTHS and tok.text[0].isupper() and (i or low != "may")):
            if tok.stem not in evidence.stems:
                return f"{tok.text} is not there"
        elif _is_name(tokens, i, claim, share) and not names.holds(tok.text):
            return f"{tok.text} is not there"
    window = _tokens(evidence.sentence)
    claim_keys = {_key(t.stem) for t in tokens}
    nearby = _Names.of(evidence.sentence)
    for mine, theirs in _replacements(tokens, window):
        # "appointed Lars Brekke" where the passage says "appointed Ingrid Solberg": a name the
        # passage holds elsewhere, put in the place of another.
        said = [t for t in mine if _is_name(tokens, tokens.index(t), claim, share) and not _calendar(t)
                and not nearby.holds(t.text)]  # a name moved within its sentence is no swap
        other = [t for t in theirs if t.text[0].isupper() and t.text.lower() not in STOPWORDS and not _calendar(t)
                 and _key(t.stem) not in claim_keys and not numbers_in(t.text.lower())]
        if said and other and not any(_key(t.stem) in {_key(o.stem) for o in theirs} for t in said):
            return f"{said[0].text} where the passage says {other[0].text}"
        for t in mine:
            if OPPOSITE.get(t.stem, set()) & {o.stem for o in theirs}:
                return f"the passage says the opposite of \u201c{t.text}\u201d"
    negating = any(_is_negation(t) or t.stem in _NEGATING_STEMS for t in window)
    for tok in tokens:
        if _is_negation(tok) and not negating:
            return f"the passage does not say \u201c{tok.text}\u201d"
    claim_stems = {t.stem for t in tokens if t.text.lower() not in STOPWORDS}
    negated_here = {t.stem for i, t in enumerate(tokens) if _negated(tokens, i)}
    for i, tok in enumerate(window):
        if tok.stem in claim_stems and tok.stem not in negated_here and _negated(window, i) \
                and tok.text.lower() not in STOPWORDS and not any(_is_negation(t) for t in tokens):
            return f"the passage says \u201cnot {tok.text}\u201d"
    return junk(claim, evidence)


def junk(claim: str, evidence: Evidence) -> str | None:
    """Why ``claim`` is no sentence a reader should get (a repeated phrase, an unknown link, an
    instruction), or None."""
    words = _WORD.findall(claim)
    for n in (2, 3, 4):
        grams = [tuple(w.lower() for w in words[i:i + n]) for i in range(len(words) - n + 1)]
        for i in range(len(grams) - n):
            # "The treaty The treaty": a phrase said twice in a row (not "or people or people").
            if grams[i] == grams[i + n] and (words[i][0].isupper() or len(terms(" ".join(grams[i]))) >= 2):
                return "it repeats itself"
        if n == 3 and any(grams.count(g) >= 3 and terms(" ".join(g)) for g in set(grams)):
            return "it repeats itself"
    for m in _URL.finditer(claim):
        link = m.group(1).rstrip(".,;")
        scheme = link.split(":", 1)[0].lower()
        if scheme in _SCHEME_WORDS and link not in f"{evidence.titles} {evidence.text}":
            return f"the link {link[:60]} is not in the passage"
    if is_instruction(claim):
        return "it is an instruction, not an answer"
    return None


def features(claim: str, evidence: Evidence, *, ce: float = math.nan) -> dict[str, float]:
    """The learned check's inputs (:data:`FEATURES`) for ``claim`` against ``evidence``; ``ce`` is
    the cross-encoder's probability that the closest sentences back it."""
    held = terms(claim)
    flags = [not evidence.holds(t) for t in held]
    missing = sum(flags)
    run = longest = 0
    for flag in flags:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    cut = int(len(flags) * TAIL_FROM)
    window = set(terms(evidence.sentence))
    tokens = _tokens(claim)
    replaced = [t for mine, _ in _replacements(tokens, _tokens(evidence.sentence)) for t in mine]
    # Words the claim puts in place of the passage's (a paraphrase's synonyms) against words it adds
    # with nothing in their place (an added clause), counting only those the passages lack.
    swapped = sum(1 for t in replaced if terms(t.text) and not all(evidence.holds(x) for x in terms(t.text)))
    n = max(len(held), 1)
    return {
        "share": 1 - missing / n, "unsupported": float(missing), "run": float(longest),
        "tail": float(sum(flags[cut:])), "window_share": sum(t in window for t in held) / n,
        "dense": evidence.dense, "terms": float(len(held)), "swapped": float(swapped),
        "added": float(missing - swapped), "ce": ce,
    }


class SupportModelError(ValueError):
    """A claim-check model folder that cannot be used (missing, damaged, made for other features)."""


class CrossEncoder:
    """The int8 ONNX cross-encoder of a claim-check folder: reads a claim with its closest passage
    sentences and gives the probability that they back it."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()  # the tokenizer's padding settings are shared state

    @cached_property
    def _tokenizer(self):  # noqa: ANN202 - tokenizers.Tokenizer
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tok.enable_truncation(CE_MAX_TOKENS, strategy="longest_first")
        tok.enable_padding()
        return tok

    @cached_property
    def _session(self):  # noqa: ANN202 - onnxruntime.InferenceSession
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        return ort.InferenceSession(str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """P(backed) for each (claim, passage sentences) pair."""
        if not pairs:
            return np.zeros(0)
        with self._lock:
            encoded = self._tokenizer.encode_batch(list(pairs))
        feeds = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                 "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64)}
        wanted = {i.name for i in self._session.get_inputs()}
        logits = np.asarray(self._session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0],
                            dtype=np.float64).reshape(len(pairs), -1)[:, 0]
        return 1 / (1 + np.exp(-logits))

    def probability(self, claim: str, sentences: str) -> float:
        return float(self.probabilities([(claim, sentences)])[0])


class SupportModel:
    """The learned part of the check: the cross-encoder and the combiner that turns its probability
    and the word-level features into the probability that a passage backs a claim.

    Args:
        folder: a folder made by ``python -m eval.train_claim_check`` (default: the bundled one).
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder else BUNDLED
        path = self.folder / "manifest.json"
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SupportModelError(f"No usable claim-check model at {self.folder} ({exc}); "
                                    "rebuild it with `python -m eval.train_claim_check`.") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
                or manifest.get("features") != list(FEATURES):
            raise SupportModelError(f"{path} is not a {FORMAT} model with features {', '.join(FEATURES)}")
        if manifest.get("tokenizer") != tokenizer_signature():
            raise SupportModelError(f"{path} was trained with another tokenizer; retrain it")
        sums = manifest.get("sha256") if isinstance(manifest.get("sha256"), dict) else {}
        for name in FILES:
            file = self.folder / name
            if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != sums.get(name):
                raise SupportModelError(f"{file} is missing or does not match the checksum in {path}")
        self.manifest = manifest
        self.threshold = float(manifest["threshold"])
        self.embedder = str(manifest.get("embedder", ""))
        self.cross_encoder = CrossEncoder(self.folder)
        self._path = self.folder / MODEL_FILE

    @cached_property
    def _booster(self):  # noqa: ANN202 - rag.trees.Trees (or lightgbm.Booster), loaded on first use
        from rag.trees import load_booster  # not lightgbm itself: its import costs a second

        return load_booster(self._path)

    def probability(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """P(backed) for each feature row."""
        if not rows:
            return np.zeros(0)
        x = np.array([[row[f] for f in FEATURES] for row in rows], dtype=np.float64)
        return np.asarray(self._booster.predict(x), dtype=np.float64)


@lru_cache(maxsize=1)
def default_model() -> SupportModel:
    """The bundled model, loaded once."""
    return SupportModel()
