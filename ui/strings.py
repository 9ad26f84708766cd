"""Every text the web app shows, in one place, so that a translation can follow."""

from __future__ import annotations

TITLE = "KORA – Fragen an die Dokumente"
HEADER = (
    "## KORA\nAntworten aus den kommunalen Dokumenten, mit nummerierten Quellen. "
    "Alles läuft auf diesem Rechner; keine Frage verlässt das Haus."
)
TAB_CHAT = "Fragen"
TAB_ADMIN = "Verwaltung"

CHAT_LABEL = "Gespräch"
QUESTION_LABEL = "Ihre Frage"
QUESTION_PLACEHOLDER = "Zum Beispiel: Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?"
SEND = "Senden"
NEW_CONVERSATION = "Neues Gespräch"
TYPE_FILTER_LABEL = "Dokumenttyp"
TYPE_ALL = "alle"
DOCUMENT_TYPES = ["konferenzbericht", "prototyp", "projektmeldung", "initiative", "dokument"]
EXAMPLES_LABEL = "Beispielfragen"
EXAMPLE_QUESTIONS = [
    "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?",
    "Was erkennt der Prototyp des Kreises Recklinghausen in Drohnenbildern?",
    "Welche Projekte gibt es zu Chatbots im Bürgerservice?",
]
SOURCES_HEADING = "Quellen"
SOURCES_EMPTY = "Hier erscheinen die Quellen der Antwort."
SOURCES_NONE_REFUSED = (
    "Keine Quelle beantwortet diese Frage. Die Dokumente behandeln zum Beispiel:"
)
MODE_EXTRACTIVE = "extraktiv"
MODE_REFUSED = "nicht in den Dokumenten"
MODE_PREFIX = "Antwortmodus: "
MODE_LLM = "{name} · Kontext {context} Tokens"
LLM_STATUS_MODEL = "Sprachmodell: {name}, Kontext {context} Tokens ({how})."
LLM_STATUS_NONE = "Kein Sprachmodell: Antworten sind extraktiv ({how})."
LLM_HOW_AUTO = "automatisch gewählt"
LLM_HOW_SET = "eingestellt mit KORA_LLM={setting}"
UNSUPPORTED = "nicht belegt"
UNSUPPORTED_HEADING = "Nicht durch die Quellen belegte Sätze:"
META_TYPE = "Typ"
META_DATE = "Datum"
META_LOCATION = "Abschnitt"
META_DOCUMENT = "Dokument"
THINKING = "…"
EMPTY_QUESTION = "Bitte geben Sie eine Frage ein."
ANSWER_FAILED = "Die Frage konnte nicht beantwortet werden: {error}"
NOTICE_PREFIX = "Hinweis: "

FEEDBACK_UP = "👍 Hilfreich"
FEEDBACK_DOWN = "👎 Nicht hilfreich"
FEEDBACK_COMMENT = "Kommentar zur letzten Antwort (optional)"
FEEDBACK_THANKS = "Danke für Ihre Rückmeldung."
FEEDBACK_NO_ANSWER = "Es gibt noch keine Antwort, die Sie bewerten könnten."

ADMIN_DISABLED = (
    "### Verwaltung nicht aktiviert\n"
    "Die Verwaltung ist ausgeschaltet, weil kein Passwort gesetzt ist. "
    "Setzen Sie die Umgebungsvariable `KORA_ADMIN_PASSWORD` auf ein Passwort und starten "
    "Sie KORA neu (`kora serve`)."
)
ADMIN_PASSWORD = "Verwaltungspasswort"
ADMIN_LOGIN = "Anmelden"
ADMIN_LOGIN_OK = "Angemeldet."
ADMIN_LOGIN_FAILED = "Das Passwort ist falsch."
ADMIN_NOT_LOGGED_IN = "Nicht angemeldet: Bitte melden Sie sich zuerst mit dem Passwort an."
ADMIN_UPLOAD = "Dokumente hochladen"
ADMIN_UPLOAD_BUTTON = "Hochladen"
ADMIN_UPLOAD_NONE = "Keine Datei ausgewählt."
ADMIN_UPLOADED = "Gespeichert: {name} (wird mit „Neu indexieren“ durchsuchbar)"
ADMIN_UPLOAD_REFUSED = "Abgelehnt: {name} – {reason}"
ADMIN_REASON_NAME = "unzulässiger Dateiname"
ADMIN_REASON_TYPE = "Dateityp nicht unterstützt (erlaubt: {allowed})"
ADMIN_REASON_SIZE = "Datei größer als {limit:g} MB"
ADMIN_REASON_OUTSIDE = "Ziel liegt außerhalb des Dokumentordners"
ADMIN_REINDEX = "Neu indexieren"
ADMIN_REINDEX_PROGRESS = "Indexiere"
ADMIN_REPORT = (
    "Indexierung abgeschlossen: {added} hinzugefügt, {updated} aktualisiert, "
    "{unchanged} unverändert, {removed} entfernt, {failed} fehlgeschlagen; "
    "{chunks} Abschnitte geschrieben."
)
ADMIN_REPORT_FAILURE = "- fehlgeschlagen: {path} – {reason}"
ADMIN_REINDEX_FAILED = "Indexierung fehlgeschlagen: {error}"
ADMIN_DOCUMENTS = "Indexierte Dokumente"
ADMIN_REFRESH = "Liste aktualisieren"
ADMIN_COLUMNS = ["Dokument", "Titel", "Typ", "Datum", "Abschnitte", "zuletzt indexiert"]
ADMIN_DELETE = "Dokument löschen"
ADMIN_DELETE_CHOICE = "Dokument"
ADMIN_DELETE_CONFIRM = "Ja, Datei löschen und Index bereinigen"
ADMIN_DELETE_BUTTON = "Löschen"
ADMIN_DELETE_UNCONFIRMED = "Bitte bestätigen Sie das Löschen mit dem Häkchen."
ADMIN_DELETE_UNKNOWN = "Unbekanntes Dokument: {doc_id}"
ADMIN_DELETE_OUTSIDE = (
    "Die Datei von {doc_id} liegt nicht im Dokumentordner und wird nicht gelöscht."
)
ADMIN_DELETED = "Gelöscht: {doc_id}."
STATUS = "Ergebnis"
ADMIN_EXPORT = "Rückmeldungen als CSV exportieren"
ADMIN_EXPORT_FILE = "CSV-Datei"
