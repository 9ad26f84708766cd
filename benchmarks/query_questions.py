"""The query benchmark's questions: German questions about the corpus, and some it cannot
answer."""

from __future__ import annotations

import random

MUNICIPALITIES = [
    "Bochum", "Stade", "Kreis Borken", "Hagen", "Kreis Viersen", "Esslingen",
    "Unterschleißheim", "Kreis Recklinghausen", "Solingen", "Kreis Unna", "Kreis Wittmund",
    "Heiligenhaus", "Osnabrück", "Herten", "Schwerte", "Gelsenkirchen", "Kreis Steinfurt",
]
PROJECTS = [
    "ChatBOt", "Käpt'n Knut", "BOR.KI", "Civic Forma", "AIMOS", "AirGuardAI", "AVIARY",
    "SmartEnergie", "SMARD-GOV", "SideKick Server", "URBAN.KI", "alangu",
    "Ewerk", "URBAN.KI-Jahrestagung 2025", "S-Public Services",
]
TOPICS = [
    "Luftbildauswertung", "die Solarpflicht", "Energieberatung", "Bedarfsprognosen für Rufbusse",
    "historische Bauakten", "IT-Sicherheit", "Flächenversiegelung", "Dachbegrünung",
    "Gebärdensprache", "Leichte Sprache", "Übersetzungen", "den Bürgerservice",
    "Online-Anträge", "Bauanträge", "Routineaufgaben", "Bevölkerungsschutz",
    "Schadstofffreisetzungen", "Weiterbildung", "Datenschutz", "Photovoltaik",
    "Wärmepumpen", "Förderprogramme", "Drohnenbilder", "Mobilitätsmanagement",
    "Archivierung", "Formulare", "Sprachmodelle", "Barrierefreiheit",
]
IN_SCOPE_TEMPLATES: list[tuple[str, list[str]]] = [
    ("Welche Kommune nutzt KI für {}?", TOPICS),
    ("Was leistet künstliche Intelligenz für {}?", TOPICS),
    ("Gibt es in der Verwaltung Projekte rund um {}?", TOPICS),
    ("Wer ist an {} beteiligt?", PROJECTS),
    ("Was ist {}?", PROJECTS),
    ("Welche Ziele verfolgt {}?", PROJECTS),
    ("Welche Daten verwendet {}?", PROJECTS),
    ("Wann wurde über {} berichtet?", PROJECTS),
    ("Wie setzt {} künstliche Intelligenz ein?", MUNICIPALITIES),
    ("Welches KI-Projekt gibt es in {}?", MUNICIPALITIES),
    ("Was hat {} mit URBAN.KI zu tun?", MUNICIPALITIES),
]
OUT_OF_SCOPE = [
    "Wie hoch ist der Gewerbesteuerhebesatz in München?",
    "Wann wird in Hamburg-Altona der Sperrmüll abgeholt?",
    "Wie beantrage ich einen neuen Reisepass?",
    "Wer hat die Fußball-Weltmeisterschaft 2014 gewonnen?",
    "Wie funktioniert ein Dieselmotor?",
    "Welche Öffnungszeiten hat das Schwimmbad in Dortmund?",
    "Was kostet ein Anwohnerparkausweis in Köln?",
    "Wie viele Einwohner hat Leipzig?",
    "Wann beginnen die Sommerferien in Bayern?",
    "Wie bewerbe ich mich für einen Kitaplatz in Berlin?",
    "Welche Hunderasse eignet sich für Familien?",
    "Wie hoch ist die Grundsteuer für ein Einfamilienhaus in Frankfurt?",
    "Wer ist der Bürgermeister von Stuttgart?",
    "Wie melde ich einen Wohnsitz in Dresden um?",
    "Welche Rezepte gibt es für Apfelstrudel?",
    "Wie lange dauert eine Baugenehmigung in Bremen?",
    "Was regelt das Bundesmeldegesetz zur Hotelmeldepflicht?",
    "Wie hoch ist das Elterngeld für Selbstständige?",
    "Welche Impfungen braucht man für eine Reise nach Thailand?",
    "Wann fährt der letzte Bus von Hannover nach Celle?",
    "Wie wird die Hundesteuer in Düsseldorf berechnet?",
    "Welche Blockchain-Projekte gibt es im Finanzamt Kassel?",
    "Wie hoch war die Inflation in Deutschland im Jahr 2023?",
    "Was kostet ein Führerschein der Klasse B?",
    "Welche Museen haben montags in Nürnberg geöffnet?",
    "Wie funktioniert die Briefwahl bei der Bundestagswahl?",
    "Wer baut die neue Rheinbrücke bei Leverkusen?",
    "Wie viel Wasser verbraucht ein Haushalt pro Jahr?",
    "Welche Sprachkurse bietet die Volkshochschule Mainz an?",
    "Wie beantrage ich Wohngeld in Chemnitz?",
]


def make_queries(count: int, *, seed: int) -> list[tuple[str, bool]]:
    """``count`` German questions (text, in_scope): ~85 % from templates over corpus terms,
    ~15 % out of scope; the same list for every index size."""
    rng = random.Random(seed)
    in_scope = [template.format(term) for template, terms in IN_SCOPE_TEMPLATES
                for term in terms]
    rng.shuffle(in_scope)
    out_count = min(len(OUT_OF_SCOPE), max(1, round(count * 0.15)))
    queries = [(q, True) for q in in_scope[: count - out_count]]
    queries += [(q, False) for q in OUT_OF_SCOPE[:out_count]]
    rng.shuffle(queries)
    return queries
