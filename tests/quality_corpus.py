"""A small corpus of a made-up city for the quality-loop tests (issue 21): three short
documents, so that an index builds in seconds and one of them can be deleted."""

from __future__ import annotations

from pathlib import Path

WINTER_QUESTION = "Wer leitet den Winterdienst?"
WINTER_FACT = "Kellermann"
WINTER_DOC = "winterdienst.md"

DOCUMENTS = {
    WINTER_DOC: """---
title: "Stadt Beispielburg: Winterdienst"
type: dokument
date: "2026-01-15"
---
# Winterdienst in Beispielburg

Der Bauhof der Stadt Beispielburg räumt bei Schneefall zuerst die Hauptstraßen und die
Busrouten. Für den Winterdienst stehen 14 Streufahrzeuge bereit. Seit 2026 streut der
Bauhof Sole statt Salz. Leiter des Winterdienstes ist Herr Anton Kellermann.
""",
    "bibliothek.md": """---
title: "Stadtbibliothek Beispielburg"
type: dokument
date: "2026-02-01"
---
# Die Stadtbibliothek

Die Stadtbibliothek Beispielburg hat dienstags bis samstags geöffnet. Sie verleiht
Bücher, Hörbücher und Brettspiele. Der Jahresausweis kostet 15 Euro. Die Bibliothek
bietet jeden Mittwoch eine Vorlesestunde für Kinder an.
""",
    "parken.md": """---
title: "Parken in der Innenstadt"
type: dokument
date: "2026-03-01"
---
# Parken in der Innenstadt

In der Innenstadt von Beispielburg gilt werktags eine Parkscheibe für zwei Stunden.
Bewohner erhalten einen Bewohnerparkausweis beim Ordnungsamt für 30 Euro im Jahr.
""",
}

# questions the corpus does not cover: two about one topic, one about another
UNCOVERED = ["Wann hat das Hallenbad samstags geöffnet?",
             "Öffnungszeiten des Hallenbads am Samstag?",
             "Wie hoch ist die Hundesteuer in Beispielburg?"]


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
