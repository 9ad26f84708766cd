"""German sentence splitting and token-budgeted chunking, on the real tokenizer."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from ingest.chunking import Chunk, chunk_document, embedding_header
from ingest.readers import read_file
from ingest.readers.base import ParsedDocument, Section, SectionBuilder
from rag.providers.embedding import Embedder
from rag.text import sentence_spans
from rag.text.sentences import split_sentences

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SPECIAL_TOKENS = 2


# --------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Wir nutzen z. B. Chatbots im Bürgerbüro. Das hilft.",
            ["Wir nutzen z. B. Chatbots im Bürgerbüro.", "Das hilft."],
            id="z. B.",
        ),
        pytest.param(
            "Prof. Dr. Müller sprach zur Eröffnung. Danach gab es Fragen.",
            ["Prof. Dr. Müller sprach zur Eröffnung.", "Danach gab es Fragen."],
            id="Prof. Dr.",
        ),
        pytest.param(
            "Siehe Nr. 5 der Liste. Das ist wichtig.",
            ["Siehe Nr. 5 der Liste.", "Das ist wichtig."],
            id="Nr. 5",
        ),
        pytest.param(
            "Die Stadt bzw. der Kreis entscheidet. Das gilt überall.",
            ["Die Stadt bzw. der Kreis entscheidet.", "Das gilt überall."],
            id="bzw.",
        ),
        pytest.param(
            "Gemäß Abs. 3 ist eine Anzeige nötig. Weiter geht es.",
            ["Gemäß Abs. 3 ist eine Anzeige nötig.", "Weiter geht es."],
            id="Abs. 3",
        ),
        pytest.param(
            "Nach § 5 Abs. 3 Nr. 2 BauO NRW ist das erlaubt. Ein Antrag entfällt.",
            ["Nach § 5 Abs. 3 Nr. 2 BauO NRW ist das erlaubt.", "Ein Antrag entfällt."],
            id="§ 5 Abs. 3 Nr. 2",
        ),
        pytest.param(
            "Die Jahrestagung fand am 28. November 2025 in Berlin statt. Es kamen viele.",
            ["Die Jahrestagung fand am 28. November 2025 in Berlin statt.", "Es kamen viele."],
            id="28. November 2025",
        ),
        pytest.param(
            "Die Satzung tritt am 1. Januar in Kraft. Sie ersetzt die alte Fassung.",
            ["Die Satzung tritt am 1. Januar in Kraft.", "Sie ersetzt die alte Fassung."],
            id="am 1. Januar",
        ),
        pytest.param(
            "Die Stadt wuchs im 19. Jahrhundert stark. Heute ist sie groß.",
            ["Die Stadt wuchs im 19. Jahrhundert stark.", "Heute ist sie groß."],
            id="im 19. Jahrhundert",
        ),
        pytest.param(
            "Es kamen ca. 200 Gäste. Alle waren zufrieden.",
            ["Es kamen ca. 200 Gäste.", "Alle waren zufrieden."],
            id="ca. 200",
        ),
        pytest.param(
            "Beteiligt sind u. a. Herten und Unna. Weitere Städte folgen.",
            ["Beteiligt sind u. a. Herten und Unna.", "Weitere Städte folgen."],
            id="u. a.",
        ),
        pytest.param(
            "Das Projekt ist beendet, d. h. Es gibt keine Förderung mehr. Neue Projekte starten.",
            [
                "Das Projekt ist beendet, d. h. Es gibt keine Förderung mehr.",
                "Neue Projekte starten.",
            ],
            id="d. h. before capital",
        ),
        pytest.param(
            "Gefördert werden Schulen, Kitas usw. und auch Sportvereine. Anträge sind offen.",
            ["Gefördert werden Schulen, Kitas usw. und auch Sportvereine.", "Anträge sind offen."],
            id="usw. und",
        ),
        pytest.param(
            "Die Initiative „URBAN.KI“ fördert Projekte. Sie ist bundesweit aktiv.",
            ["Die Initiative „URBAN.KI“ fördert Projekte.", "Sie ist bundesweit aktiv."],
            id="URBAN.KI",
        ),
        pytest.param(
            "Es kamen rund 200. Danach wurde diskutiert.",
            ["Es kamen rund 200.", "Danach wurde diskutiert."],
            id="number ends sentence",
        ),
        pytest.param(
            "Was leistet KORA? KORA beantwortet Fragen! Die Quellen werden genannt.",
            ["Was leistet KORA?", "KORA beantwortet Fragen!", "Die Quellen werden genannt."],
            id="question and exclamation",
        ),
        pytest.param(
            "Er sagte: „Das ist gut.“ Dann ging er.",
            ["Er sagte: „Das ist gut.“", "Dann ging er."],
            id="closing quote",
        ),
        pytest.param(
            "Erster Absatz ohne Punkt\n\nZweiter Absatz ohne Punkt",
            ["Erster Absatz ohne Punkt", "Zweiter Absatz ohne Punkt"],
            id="paragraph break",
        ),
        pytest.param(
            "Voraussetzungen:\n- gültiger Ausweis\n- aktuelle Meldeadresse",
            ["Voraussetzungen:", "- gültiger Ausweis", "- aktuelle Meldeadresse"],
            id="dash list",
        ),
        pytest.param(
            "Ablauf:\n1. Antrag stellen\n2. Bescheid abwarten",
            ["Ablauf:", "1. Antrag stellen", "2. Bescheid abwarten"],
            id="numbered list",
        ),
        pytest.param(
            "Zeile eins geht\nin Zeile zwei weiter. Neuer Satz.",
            ["Zeile eins geht\nin Zeile zwei weiter.", "Neuer Satz."],
            id="soft line break",
        ),
        pytest.param(
            "Das kostet ca. drei Euro. 15 Personen kamen.",
            ["Das kostet ca. drei Euro.", "15 Personen kamen."],
            id="digit opens sentence",
        ),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_sentence_spans_respect_start_end_and_strip_whitespace() -> None:
    text = "Kopf\n\n  Erster Satz mit z. B. Abkürzung.  Zweiter Satz!  \n\nFuß"
    start = text.index("Erster") - 2
    end = text.index("Fuß")
    spans = sentence_spans(text, start, end)
    assert [text[s:e] for s, e in spans] == [
        "Erster Satz mit z. B. Abkürzung.",
        "Zweiter Satz!",
    ]
    for s, e in spans:
        assert start <= s < e <= end


# --------------------------------------------------------------------------- realistic document

TITLE = "Digitalisierung im Bürgeramt"
SECTION_1 = "Ausgangslage und Ziele"
SECTION_2 = "Umsetzung und Ergebnisse"

PARAGRAPHS_1 = [
    "Die Stadtverwaltung hat im Jahr 2024 beschlossen, das Bürgeramt schrittweise zu "
    "digitalisieren. Ziel ist es, Wartezeiten zu verkürzen und die Mitarbeitenden von "
    "Routineaufgaben zu entlasten. Bislang mussten Bürgerinnen und Bürger für viele "
    "Anliegen persönlich erscheinen, z. B. für die Anmeldung eines Wohnsitzes oder die "
    "Beantragung eines Anwohnerparkausweises.",
    "Nach § 17 Abs. 1 Bundesmeldegesetz ist eine Anmeldung innerhalb von zwei Wochen nach "
    "dem Einzug erforderlich. In der Praxis führte das zu langen Schlangen, insbesondere zu "
    "Semesterbeginn. Prof. Dr. Anna Schmidt von der Hochschule begleitete das Vorhaben "
    "wissenschaftlich. Sie empfahl, zuerst die häufigsten Verfahren zu digitalisieren.",
    "Eine Befragung im Frühjahr ergab, dass rund 70 Prozent der Befragten Anträge lieber "
    "online stellen würden. Viele wünschten sich außerdem eine verständliche Sprache und "
    "klare Hinweise, welche Unterlagen benötigt werden. Ältere Menschen sollten weiterhin "
    "persönlich beraten werden können, bzw. telefonisch Unterstützung erhalten.",
    "Der Rat der Stadt stimmte dem Konzept am 12. März 2024 zu. Die Finanzierung erfolgt "
    "zum Teil aus Fördermitteln des Landes. Insgesamt stehen ca. 450.000 Euro für drei "
    "Jahre zur Verfügung. Ein Lenkungskreis aus Verwaltung, Personalrat und "
    "Datenschutzbeauftragter trifft sich monatlich.",
    "Wichtig war allen Beteiligten, dass die neuen Dienste barrierefrei sind. Deshalb "
    "wurden die Formulare mit Screenreadern getestet und in Leichte Sprache übersetzt. "
    "Auch eine Übersetzung ins Englische, Türkische und Ukrainische ist vorgesehen.",
    "Vor dem Start wurden die bestehenden Abläufe genau untersucht. Dabei zeigte sich, dass "
    "viele Anträge mehrfach abgetippt wurden: erst vom Papier in eine Tabelle, dann in das "
    "Fachverfahren. Diese Medienbrüche kosteten Zeit und führten immer wieder zu Fehlern. "
    "Die Mitarbeitenden wurden deshalb früh in die Planung einbezogen und brachten eigene "
    "Vorschläge ein.",
    "Der Datenschutz spielte von Anfang an eine zentrale Rolle. Alle Daten werden in einem "
    "kommunalen Rechenzentrum gespeichert, nicht bei einem externen Anbieter. Die "
    "Datenschutzbeauftragte prüfte jedes Verfahren vor dem Start. Personenbezogene Daten "
    "werden nach Abschluss des Verfahrens gemäß Art. 17 DSGVO gelöscht.",
]

PARAGRAPHS_2 = [
    "Im ersten Schritt wurden die Wohnsitzanmeldung und der Anwohnerparkausweis als "
    "Online-Dienste umgesetzt. Die Anträge werden automatisch auf Vollständigkeit geprüft. "
    "Fehlen Unterlagen, erhalten die Antragstellenden eine E-Mail mit einer Liste der "
    "fehlenden Dokumente. Die Sachbearbeitung erfolgt weiterhin durch Mitarbeitende.",
    "Seit dem 1. Oktober 2024 steht zudem ein Chatbot auf der Internetseite zur Verfügung. "
    "Er beantwortet Fragen zu Öffnungszeiten, Gebühren und benötigten Unterlagen. Kann er "
    "eine Frage nicht beantworten, verweist er an das Servicetelefon. Die Antworten stützen "
    "sich ausschließlich auf geprüfte Texte der Verwaltung.",
    "Die Auswertung nach sechs Monaten ist ermutigend. Die durchschnittliche Wartezeit im "
    "Bürgeramt sank von 45 auf 20 Minuten. Rund 3.000 Anträge gingen online ein, d. h. etwa "
    "ein Drittel aller Anmeldungen. Die Zahl der Rückfragen per Telefon ging deutlich zurück.",
    "Nicht alles lief reibungslos. Anfangs gab es Probleme mit der Anbindung an das "
    "Fachverfahren, sodass Daten doppelt erfasst werden mussten. Außerdem war die "
    "Identifizierung mit dem Online-Ausweis für viele Nutzende ungewohnt. Die Verwaltung "
    "hat daraufhin Erklärvideos veröffentlicht.",
    "Für 2025 ist geplant, weitere Verfahren zu digitalisieren, u. a. die Beantragung von "
    "Führungszeugnissen und die Anmeldung von Hunden. Die Erfahrungen werden mit anderen "
    "Kommunen geteilt. Interessierte Städte können sich an das Team Digitalisierung wenden. "
    "Wie geht es weiter? Das entscheidet der Rat im Herbst!",
    "Die Schulung der Beschäftigten erfolgte in kleinen Gruppen. Jede Gruppe besuchte zwei "
    "halbtägige Workshops, in denen die neuen Abläufe praktisch geübt wurden. Zusätzlich "
    "gibt es in jedem Team eine Ansprechperson für digitale Fragen. Diese Multiplikatoren "
    "treffen sich regelmäßig und tauschen Erfahrungen aus.",
    "Auch die Bürgerinnen und Bürger wurden beteiligt. In zwei Werkstätten testeten sie die "
    "Formulare und gaben Rückmeldungen zu Sprache und Bedienung. Viele Hinweise wurden "
    "direkt umgesetzt, etwa größere Schaltflächen und eine Speicherfunktion für halb "
    "ausgefüllte Anträge. Die Werkstätten sollen jährlich wiederholt werden.",
]


def build_document(
    title: str, sections: list[tuple[str, list[str]]], *, with_title_heading: bool = True
) -> ParsedDocument:
    builder = SectionBuilder()
    if with_title_heading:
        builder.heading(title)
    for heading, paragraphs in sections:
        builder.heading(heading)
        for paragraph in paragraphs:
            builder.block(paragraph)
    text, parsed_sections = builder.build()
    return ParsedDocument(
        text=text,
        title=title,
        date="2025-01-15",
        type="bericht",
        source="bericht.md",
        sections=parsed_sections,
    )


@pytest.fixture(scope="module")
def document() -> ParsedDocument:
    return build_document(TITLE, [(SECTION_1, PARAGRAPHS_1), (SECTION_2, PARAGRAPHS_2)])


def chunk(
    document: ParsedDocument, embedder: Embedder, *, max_tokens: int = 200, overlap_tokens: int = 40
) -> list[Chunk]:
    return chunk_document(
        document,
        count_tokens=embedder.count_tokens,
        max_tokens=max_tokens,
        overlap_tokens=overlap_tokens,
    )


def containing_section(document: ParsedDocument, piece: Chunk) -> Section:
    matches = [s for s in document.sections if s.start <= piece.start and piece.end <= s.end]
    assert len(matches) == 1, f"chunk {piece.start}:{piece.end} lies in {len(matches)} sections"
    return matches[0]


def assert_chunk_invariants(
    document: ParsedDocument, chunks: list[Chunk], embedder: Embedder, max_tokens: int
) -> None:
    assert chunks
    for piece in chunks:
        assert piece.text == document.text[piece.start : piece.end]
        assert piece.text.strip() == piece.text != ""
        section = containing_section(document, piece)
        assert piece.location == section.location
        header = embedding_header(document.title, section.location)
        assert piece.embed_text == f"{header}\n{piece.text}"
    sizes = embedder.count_tokens([piece.embed_text for piece in chunks])
    over = [
        (piece.start, size)
        for piece, size in zip(chunks, sizes, strict=True)
        if size + SPECIAL_TOKENS > max_tokens
    ]
    assert not over, f"chunks over the {max_tokens}-token window: {over}"


def chunks_by_section(document: ParsedDocument, chunks: list[Chunk]) -> dict[Section, list[Chunk]]:
    grouped: dict[Section, list[Chunk]] = {section: [] for section in document.sections}
    for piece in chunks:
        grouped[containing_section(document, piece)].append(piece)
    return grouped


def assert_covers_section(document: ParsedDocument, section: Section, pieces: list[Chunk]) -> None:
    """Every non-space character of the section is in some chunk (sentences cut by the
    long-sentence splitter included)."""
    covered = [False] * (section.end - section.start)
    for piece in pieces:
        for index in range(piece.start, piece.end):
            covered[index - section.start] = True
    lost = [
        index
        for index, done in enumerate(covered, start=section.start)
        if not done and not document.text[index].isspace()
    ]
    assert not lost, f"text not in any chunk: {document.text[lost[0] : lost[0] + 40]!r}"


def test_document_fixture_is_realistic(document: ParsedDocument) -> None:
    words = len(document.text.split())
    assert 550 <= words <= 700
    assert [s.location for s in document.sections] == [SECTION_1, SECTION_2]
    assert document.text.startswith(f"{TITLE}\n\n{SECTION_1}\n\n")
    # the splitter finds whole sentences in it (no cut at "z. B.", "§ 17 Abs. 1", "12. März")
    for section in document.sections:
        sentences = [
            document.text[s:e] for s, e in sentence_spans(document.text, section.start, section.end)
        ]
        assert len(sentences) >= 25
        assert all(sentence[0].isupper() and sentence[-1] in ".!?" for sentence in sentences)


@pytest.mark.slow
def test_chunks_are_text_slices_within_one_section_and_budget(
    document: ParsedDocument,
    embedder: Embedder,
) -> None:
    chunks = chunk(document, embedder)
    assert_chunk_invariants(document, chunks, embedder, 200)
    grouped = chunks_by_section(document, chunks)
    assert all(len(pieces) >= 2 for pieces in grouped.values()), "sections too short to test"
    # the heading text is never part of a chunk
    assert all(SECTION_1 not in p.text and SECTION_2 not in p.text for p in chunks)
    # chunks keep document order
    assert [p.start for p in chunks] == sorted(p.start for p in chunks)


@pytest.mark.slow
def test_chunks_start_and_end_at_sentence_boundaries(
    document: ParsedDocument,
    embedder: Embedder,
) -> None:
    chunks = chunk(document, embedder)
    for section, pieces in chunks_by_section(document, chunks).items():
        spans = sentence_spans(document.text, section.start, section.end)
        starts = {s for s, _ in spans}
        ends = {e for _, e in spans}
        for piece in pieces:
            assert piece.start in starts, f"chunk starts mid-sentence: {piece.text[:50]!r}"
            assert piece.end in ends, f"chunk ends mid-sentence: {piece.text[-50:]!r}"


@pytest.mark.slow
def test_overlap_is_bounded_and_chunks_cover_every_sentence(
    document: ParsedDocument,
    embedder: Embedder,
) -> None:
    chunks = chunk(document, embedder, overlap_tokens=40)
    overlaps = 0
    for section, pieces in chunks_by_section(document, chunks).items():
        for previous, following in pairwise(pieces):
            assert following.start > previous.start and following.end > previous.end
            assert following.start <= previous.end + 2, "gap between consecutive chunks"
            if following.start < previous.end:
                overlaps += 1
                shared = document.text[following.start : previous.end]
                assert embedder.count_tokens([shared])[0] <= 40, shared
        for s, e in sentence_spans(document.text, section.start, section.end):
            assert any(p.start <= s and e <= p.end for p in pieces), document.text[s:e]
        assert_covers_section(document, section, pieces)
    assert overlaps >= 1, "overlap_tokens=40 produced no overlap at all"


@pytest.mark.slow
def test_zero_overlap_partitions_the_sentences(
    document: ParsedDocument,
    embedder: Embedder,
) -> None:
    chunks = chunk(document, embedder, overlap_tokens=0)
    assert_chunk_invariants(document, chunks, embedder, 200)
    for section, pieces in chunks_by_section(document, chunks).items():
        for previous, following in pairwise(pieces):
            assert following.start > previous.end, "chunks overlap with overlap_tokens=0"
        # every sentence is in exactly one chunk
        for s, e in sentence_spans(document.text, section.start, section.end):
            assert sum(p.start <= s and e <= p.end for p in pieces) == 1
    with_overlap = chunk(document, embedder, overlap_tokens=40)
    assert len(with_overlap) >= len(chunks)


@pytest.mark.slow
def test_smaller_budget_gives_more_chunks(
    document: ParsedDocument,
    embedder: Embedder,
) -> None:
    small = chunk(document, embedder, max_tokens=100, overlap_tokens=20)
    large = chunk(document, embedder, max_tokens=256, overlap_tokens=40)
    assert_chunk_invariants(document, small, embedder, 100)
    assert_chunk_invariants(document, large, embedder, 256)
    assert len(small) > len(large)


@pytest.mark.slow
def test_short_section_is_one_chunk(embedder: Embedder) -> None:
    doc = build_document("Kurz", [("Hinweis", ["Das Bürgeramt ist heute geschlossen."])])
    chunks = chunk(doc, embedder)
    assert [(c.text, c.location) for c in chunks] == [
        ("Das Bürgeramt ist heute geschlossen.", "Hinweis")
    ]
    assert chunks[0].embed_text == "Kurz – Hinweis\nDas Bürgeramt ist heute geschlossen."


WORDS = (
    "Stadt Verwaltung Bürger Antrag Formular Gebühr Bescheid Satzung Rathaus Amt Frist "
    "Datenschutz Förderung Klimaschutz Straße Verkehr Schule Kita Wohnung Gewerbe Hund Park "
    "Sitzung Rat Ausschuss Haushalt Projekt Prototyp Bürgerbüro digital online Termin"
).split()


@pytest.mark.slow
def test_long_sentence_without_punctuation_is_split_within_budget(
    embedder: Embedder,
) -> None:
    sentence = " ".join(WORDS[i % len(WORDS)] for i in range(400))
    doc = build_document("Wortliste", [("Anhang", [sentence])])
    section = doc.sections[0]
    assert embedder.count_tokens([sentence])[0] > 400
    chunks = chunk(doc, embedder)
    assert len(chunks) >= 3
    assert_chunk_invariants(doc, chunks, embedder, 200)
    # cut at spaces, never inside a word, and nothing of the sentence is lost
    words = set(WORDS)
    for piece in chunks:
        assert set(piece.text.split()) <= words
    assert chunks[0].start == section.start and chunks[-1].end == section.end
    for previous, following in pairwise(chunks):
        assert following.start <= previous.end + 1
    assert " ".join(" ".join(c.text for c in chunks).split()) == sentence


@pytest.mark.slow
def test_long_sentence_between_normal_sentences(embedder: Embedder) -> None:
    long_sentence = " ".join(WORDS[i % len(WORDS)] for i in range(300))
    paragraphs = ["Der Ausschuss tagte am 3. Mai.", long_sentence, "Die Sitzung endete um 18 Uhr."]
    doc = build_document("Protokoll", [("Tagesordnung", paragraphs)])
    chunks = chunk(doc, embedder)
    assert_chunk_invariants(doc, chunks, embedder, 200)
    assert chunks[0].text.startswith("Der Ausschuss tagte am 3. Mai.")
    assert chunks[-1].text.endswith("Die Sitzung endete um 18 Uhr.")


@pytest.mark.slow
def test_long_sentence_with_uneven_token_density_stays_within_budget(
    embedder: Embedder,
) -> None:
    row = " ".join(["1.234,56 €"] * 150 + ["Verwaltungsdigitalisierung"] * 150)
    doc = build_document("Haushalt", [("Tabelle", [row])])
    chunks = chunk(doc, embedder)
    assert all(c.text == doc.text[c.start : c.end] for c in chunks)
    sizes = embedder.count_tokens([c.embed_text for c in chunks])
    assert max(sizes) + SPECIAL_TOKENS <= 200, sizes


SENTENCE_A = (
    "Die Stadtverwaltung hat im vergangenen Jahr zahlreiche Verfahren digitalisiert, darunter "
    "die Anmeldung von Wohnsitzen, die Beantragung von Parkausweisen für Anwohnerinnen und "
    "Anwohner sowie die Meldung von Schäden im öffentlichen Straßenraum."
)
SENTENCE_B = "Die Rückmeldungen waren überwiegend positiv."
SENTENCE_C = (
    "Für das kommende Jahr plant die Verwaltung, auch die Genehmigung von Sondernutzungen, die "
    "Vergabe von Terminen im Bürgerbüro, die Beantragung von Wohngeld, die Anmeldung von "
    "Gewerben, die Ausstellung von Führungszeugnissen, die Beantragung von "
    "Bewohnerparkausweisen, die Anmeldung von Hunden und die Reservierung von Räumen im "
    "Rathaus vollständig online anzubieten, wobei die Mitarbeitenden frühzeitig geschult und "
    "die Bürgerinnen und Bürger über die Internetseite der Stadt, die sozialen Medien, die "
    "Aushänge im Rathaus und die örtliche Presse informiert werden sollen."
)


@pytest.mark.slow
def test_every_chunk_adds_new_text(embedder: Embedder) -> None:
    doc = build_document(
        "Digitalisierung",
        [("Digitalisierung", [f"{SENTENCE_A} {SENTENCE_B} {SENTENCE_C}"])],
        with_title_heading=False,
    )
    sizes = embedder.count_tokens([SENTENCE_A, SENTENCE_B, SENTENCE_C])
    header = embedder.count_tokens(["Digitalisierung\n"])[0]
    # a window just large enough for C alone, whatever the tokenizer
    max_tokens = sizes[2] + 2 + SPECIAL_TOKENS + header
    budget = max_tokens - SPECIAL_TOKENS - header
    # the precondition of the bug: B fits the overlap, B + C do not fit the budget
    assert sizes[1] + 1 <= 40 and sizes[1] + sizes[2] + 1 > budget >= sizes[2]
    assert sizes[0] + sizes[1] + 1 <= budget
    chunks = chunk(doc, embedder, max_tokens=max_tokens)
    assert_chunk_invariants(doc, chunks, embedder, max_tokens)
    for previous, following in pairwise(chunks):
        assert following.end > previous.end, f"{following.text!r} adds nothing"
    assert [c.text for c in chunks] == [f"{SENTENCE_A} {SENTENCE_B}", SENTENCE_C]


# --------------------------------------------------------------------------- shipped corpus

CORPUS_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())


def test_corpus_is_present() -> None:
    assert len(CORPUS_FILES) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(200, 40), (128, 20)])
def test_corpus_file_chunks_keep_invariants(
    path: Path,
    max_tokens: int,
    overlap_tokens: int,
    embedder: Embedder,
) -> None:
    document = read_file(path, max_bytes=10_000_000)
    assert document.title and document.sections
    for section in document.sections:
        assert 0 <= section.start < section.end <= len(document.text)
        assert document.text[section.start : section.end].strip()
    chunks = chunk(document, embedder, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    assert_chunk_invariants(document, chunks, embedder, max_tokens)
    for section, pieces in chunks_by_section(document, chunks).items():
        assert pieces, f"section {section.location!r} got no chunk"
        assert_covers_section(document, section, pieces)
        for previous, following in pairwise(pieces):
            if following.start < previous.end:
                shared = document.text[following.start : previous.end]
                assert embedder.count_tokens([shared])[0] <= overlap_tokens
