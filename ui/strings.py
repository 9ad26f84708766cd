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
# what a failure that is not a KoraError shows: its details are for the operator only
UNEXPECTED_ERROR = "Unerwarteter Fehler – Details stehen im Server-Log."
NOTICE_PREFIX = "Hinweis: "
INDEX_OTHER_MODEL = (
    "Der Index wurde mit einem anderen Einbettungsmodell erstellt und kann so nicht "
    "antworten. Eine Administratorin oder ein Administrator muss ihn neu aufbauen: unter "
    "„Verwaltung“ mit „Neu indexieren“ oder mit `kora ingest --rebuild`."
)
INDEX_OTHER_MODEL_BANNER = f"**Hinweis:** {INDEX_OTHER_MODEL}"
INDEX_UNREACHABLE = (
    "Der Suchindex ist gerade nicht erreichbar (der Chroma-Server antwortet nicht). "
    "Bitte versuchen Sie es in einer Minute noch einmal; dauert es länger, verständigen "
    "Sie bitte die IT."
)
INDEX_UNREACHABLE_BANNER = f"**Hinweis:** {INDEX_UNREACHABLE}"
INDEX_EMPTY = (
    "Es sind noch keine Dokumente indexiert. Eine Administratorin oder ein Administrator "
    "kann sie unter „Verwaltung“ mit „Neu indexieren“ oder mit `kora ingest` aufnehmen."
)
INDEX_EMPTY_BANNER = f"**Hinweis:** {INDEX_EMPTY}"

FEEDBACK_UP = "👍 Hilfreich"
FEEDBACK_DOWN = "👎 Nicht hilfreich"
FEEDBACK_COMMENT = "Kommentar zur letzten Antwort (optional)"
FEEDBACK_THANKS = "Danke für Ihre Rückmeldung."
DATABASE_DOWN = (
    "Die Datenbank für Konten, Protokoll und Rückmeldungen ist gerade nicht erreichbar; "
    "es wurde nichts gespeichert. Bitte prüfen Sie den Datenbankserver (KORA_DATABASE_URL) "
    "oder versuchen Sie es in einigen Minuten erneut."
)
FEEDBACK_NO_ANSWER = "Es gibt noch keine Antwort, die Sie bewerten könnten."

ADMIN_DISABLED = (
    "### Verwaltung nicht aktiviert\n"
    "Die Verwaltung ist ausgeschaltet, weil es noch kein Verwaltungskonto gibt. Legen Sie "
    "eines an: `kora admin add NAME` (das Passwort wird abgefragt); es gilt sofort, auch "
    "für einen laufenden Server. Übergangsweise öffnet auch ein gemeinsames Passwort in "
    "der Umgebungsvariable `KORA_ADMIN_PASSWORD` die Verwaltung (nach einem Neustart von "
    "`kora serve`), solange kein benanntes Konto existiert."
)
LOGIN_HEADING = "### Anmeldung"
ADMIN_ACCOUNT = "Konto"
ADMIN_ACCOUNT_PLACEHOLDER = "Name des Kontos (bei gemeinsamem Passwort leer lassen)"
ADMIN_PASSWORD = "Passwort"
ADMIN_LOGIN = "Anmelden"
ADMIN_LOGOUT = "Abmelden"
ADMIN_LOGIN_OK = "Angemeldet als {account}."
ADMIN_LOGIN_OK_ENV = (
    "Angemeldet mit dem gemeinsamen Passwort aus KORA_ADMIN_PASSWORD (ohne Namen). "
    "Besser: benannte Konten mit `kora admin add NAME`."
)
ADMIN_LOGIN_PROXY = "Angemeldet über den Anmeldedienst der Stadt als {account}."
ADMIN_LOGIN_FAILED = "Anmeldung fehlgeschlagen: Konto oder Passwort ist falsch."
ADMIN_LOGIN_THROTTLED = (
    "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie {seconds} Sekunden, bevor Sie "
    "es erneut versuchen."
)
ADMIN_LOGGED_OUT = "Abgemeldet."
ADMIN_NOT_LOGGED_IN = "Nicht angemeldet: Bitte melden Sie sich zuerst an."
ADMIN_SESSION_EXPIRED = (
    "Ihre Sitzung ist wegen Inaktivität abgelaufen: Bitte melden Sie sich erneut an."
)
ADMIN_NOT_ADMIN = "Dieses Konto darf nur Fragen stellen, nicht verwalten."
AUTH_HEADER_REFUSED = (
    "Abgelehnt: Die Anfrage trägt eine Benutzerkennung, kommt aber nicht über den "
    "vertrauenswürdigen Proxy."
)
CHAT_LOGIN_REQUIRED = "Bitte melden Sie sich an, um Fragen zu stellen."
ADMIN_UPLOAD = "Dokumente hochladen"
ADMIN_UPLOAD_BUTTON = "Hochladen"
ADMIN_UPLOAD_NONE = "Keine Datei ausgewählt."
ADMIN_UPLOADED = "Gespeichert: {name} (wird mit „Neu indexieren“ durchsuchbar)"
ADMIN_REPLACED = "Ersetzt: {name} (die neue Fassung wird mit „Neu indexieren“ durchsuchbar)"
ADMIN_UPLOAD_REFUSED = "Abgelehnt: {name} – {reason}"
ADMIN_REASON_NAME = "unzulässiger Dateiname"
ADMIN_REASON_NAME_PATH = "Dateiname enthält einen Pfad (/ oder \\)"
ADMIN_REASON_NAME_DOTS = "Dateiname enthält „..“"
ADMIN_REASON_NAME_CONTROL = "Dateiname enthält Steuerzeichen"
ADMIN_REASON_NAME_INVISIBLE = (
    "Dateiname enthält unsichtbare Steuerzeichen (z. B. Rechts-nach-links-Umkehr), die "
    "einen anderen Namen vortäuschen können"
)
ADMIN_REASON_WRITE = "Datei konnte nicht gespeichert werden ({detail})"
ADMIN_REASON_TYPE = "Dateityp nicht unterstützt (erlaubt: {detail})"
ADMIN_REASON_SIZE = "Datei größer als {detail} MB"
ADMIN_REASON_OUTSIDE = "Ziel liegt außerhalb des Dokumentordners"
# people.uploads.REFUSALS, each with its text; {detail} is the outcome's detail (a limit,
# the allowed types, the reader's own reason)
ADMIN_REASONS = {
    "name": ADMIN_REASON_NAME,
    "name-path": ADMIN_REASON_NAME_PATH,
    "name-dots": ADMIN_REASON_NAME_DOTS,
    "name-control": ADMIN_REASON_NAME_CONTROL,
    "name-invisible": ADMIN_REASON_NAME_INVISIBLE,
    "outside": ADMIN_REASON_OUTSIDE,
    "type": ADMIN_REASON_TYPE,
    "size": ADMIN_REASON_SIZE,
    "unreadable": "{detail}",
    "write": ADMIN_REASON_WRITE,
}
ADMIN_REINDEX = "Neu indexieren"
ADMIN_REINDEX_FULL = (
    "Vollständig neu aufbauen (alle Dokumente neu einlesen; der Chat antwortet weiter aus "
    "dem bisherigen Index und wechselt, wenn der neue fertig ist)"
)
ADMIN_REINDEX_PROGRESS = "Indexiere"
ADMIN_REPORT = (
    "Indexierung abgeschlossen: {added} hinzugefügt, {updated} aktualisiert, "
    "{unchanged} unverändert, {removed} entfernt, {failed} fehlgeschlagen; "
    "{chunks} Abschnitte geschrieben."
)
ADMIN_REPORT_FAILURE = "- fehlgeschlagen: {path} – {reason}"
ADMIN_REPORT_UNDATED = "{count} Dokument(e) ohne Datum."
ADMIN_REPORT_REPLACED = "- {doc_id} ersetzt durch {by}"
ADMIN_REPORT_RESTORED = "- {doc_id} antwortet wieder (die neuere Fassung ist entfernt)"
ADMIN_REPLACES = "ersetzt Dokument … (optional, bei einer einzelnen Datei)"
ADMIN_REPLACES_DONE = (
    "{name} ersetzt {doc_id}: die ältere Fassung bleibt gelistet, antwortet nach "
    "„Neu indexieren“ aber nicht mehr.")
ADMIN_REPLACES_ONE_FILE = "„ersetzt Dokument“ gilt nur für eine einzelne hochgeladene Datei."
ADMIN_PREVIEW = "Vorschau"
ADMIN_PREVIEW_HEADING = (
    "Vorschau (nichts wurde geändert): {added} hinzufügen, {updated} aktualisieren, "
    "{unchanged} unverändert, {removed} entfernen, {failed} fehlerhaft, {undated} ohne Datum.")
ADMIN_PREVIEW_LINE = {"add": "- hinzufügen: {doc_id}", "update": "- aktualisieren: {doc_id}",
                      "remove": "- entfernen: {doc_id}"}
ADMIN_PREVIEW_REPLACE = "- ersetzen: {doc_id} durch {by}"
ADMIN_PREVIEW_RESTORE = "- antwortet wieder: {doc_id}"
ADMIN_PREVIEW_FAILURE = "- würde fehlschlagen: {path} – {reason}"
ADMIN_LARGE_REMOVAL_CONFIRM = "Ja, auch eine große Entfernung von Dokumenten ausführen"
ADMIN_LARGE_REMOVAL = (
    "Nicht ausgeführt: Die Indexierung würde {removing} von {indexed} Dokumenten entfernen "
    "({share:.0%}, mehr als {limit:.0%}). Prüfen Sie die Liste mit „Vorschau“ und bestätigen "
    "Sie dann mit dem Häkchen „{confirm}“.")
ADMIN_REINDEX_FAILED = "Indexierung fehlgeschlagen: {error}"
ADMIN_DOCUMENTS = "Indexierte Dokumente"
ADMIN_REFRESH = "Liste aktualisieren"
ADMIN_COLUMNS = ["Dokument", "Titel", "Typ", "Datum", "Abschnitte", "zuletzt indexiert",
                 "ersetzt durch"]
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
# people.DeleteOutcome's refusals
ADMIN_DELETE_REFUSALS = {"unknown": ADMIN_DELETE_UNKNOWN, "outside": ADMIN_DELETE_OUTSIDE}
STATUS = "Ergebnis"
ADMIN_EXPORT = "Rückmeldungen als CSV exportieren"
ADMIN_EXPORT_FILE = "CSV-Datei"
ADMIN_EXPORT_DONE = (
    "{rows} Rückmeldungen exportiert (aufbewahrt werden nur die der letzten {days} Tage)."
)
FEEDBACK_EXPORT_NAME = "kora-rueckmeldungen.csv"
AUDIT_HEADING = "Protokoll der Verwaltung"
AUDIT_NOTE = (
    "Jede Anmeldung, Abmeldung, jedes Hochladen, Löschen, Neu-Indexieren und jeder Export "
    "wird mit Zeit, Konto und Adresse protokolliert; hier die letzten {count} Einträge. "
    "Das Protokoll kann in KORA nicht geändert werden."
)
AUDIT_REFRESH = "Protokoll aktualisieren"
AUDIT_EXPORT = "Protokoll als CSV exportieren"
AUDIT_EXPORT_NAME = "kora-protokoll.csv"
AUDIT_COLUMNS = ["Zeit (UTC)", "Konto", "Adresse", "Aktion", "Ergebnis", "Dokumente", "Details"]
AUDIT_BROKEN = (
    "Achtung: Das Protokoll wurde außerhalb von KORA verändert (ab Eintrag {line}). "
    "Prüfen Sie es mit `kora audit`."
)

CONSOLE_ADMIN_ENV = (
    "Verwaltung: gemeinsames Passwort aus KORA_ADMIN_PASSWORD (ohne Namen, nur für eine "
    "Person gedacht). Benannte Konten: kora admin add NAME"
)
CONSOLE_ADMIN_ENV_IGNORED = (
    "Hinweis: KORA_ADMIN_PASSWORD ist gesetzt, wird aber nicht verwendet, weil benannte "
    "Konten existieren. Entfernen Sie die Variable."
)
CONSOLE_ADMIN_ACCOUNTS = "Verwaltung: {count} benannte(s) Konto/Konten (kora admin list)."
CONSOLE_ADMIN_OFF = "Verwaltung ausgeschaltet: kein Konto (kora admin add NAME)."
CONSOLE_PEOPLE_DATA = "Konten, Protokoll und Rückmeldungen: {location}"
CONSOLE_DATABASE_DOWN = (
    "Warnung: Die Datenbank für Konten, Protokoll und Rückmeldungen ist nicht erreichbar "
    "({error}). Der Chat antwortet trotzdem; Verwaltung und Rückmeldungen gehen wieder, "
    "sobald sie erreichbar ist."
)
CONSOLE_PURGED = "Rückmeldungen älter als {days} Tage gelöscht: {count}."
CONSOLE_PURGED_UNANSWERED = "Unbeantwortete Fragen älter als {days} Tage gelöscht: {count}."
CONSOLE_RUNNING = "KORA läuft auf http://{host}:{port}"

# the command line; its indexing bar is labelled ADMIN_REINDEX_PROGRESS like the web's
CLI_DOCUMENTS_UNIT = "Dok."
CLI_CHECKED_ANSWER = "Geprüfte Antwort:"
CLI_FIRST_INDEX = "Noch kein Index: indexiere {corpus} …"

# the OpenAI-compatible HTTP API (/v1): one line each, German first, then English for the
# portal's operator, who may not read German
API_SOURCES_HEADING = "**Quellen**"
API_CHECKED_ANSWER = "**Geprüfte Antwort:**"
API_MODEL_CONFIGURED = "KORA im eingestellten Antwortmodus ({mode})"
API_MODEL_EXTRACTIVE = "KORA, nur extraktive Antworten (wörtliche Sätze aus den Quellen)"
API_KEY_MISSING = (
    "Kein API-Schlüssel: Senden Sie „Authorization: Bearer <Schlüssel>“ (Schlüssel erstellt "
    "die Administration mit `kora admin token add NAME`). / No API key: send "
    "'Authorization: Bearer <key>'."
)
API_KEY_INVALID = (
    "Ungültiger API-Schlüssel. / Invalid API key."
)
API_KEY_EXPIRED = "Der API-Schlüssel ist abgelaufen. / The API key has expired."
API_KEY_REVOKED = "Der API-Schlüssel wurde widerrufen. / The API key has been revoked."
API_KEY_THROTTLED = (
    "Zu viele Anfragen mit falschem API-Schlüssel: Bitte warten Sie {seconds} Sekunden. / "
    "Too many requests with a wrong API key: wait {seconds} seconds."
)
API_QUEUE_FULL = (
    "KORA ist ausgelastet: Bitte in {seconds} Sekunden erneut versuchen. / KORA is busy: "
    "retry in {seconds} seconds."
)
API_UNKNOWN_MODEL = (
    "Unbekanntes Modell {model!r}: Verfügbar sind {models}. / Unknown model {model!r}: "
    "use one of {models}."
)
API_UNKNOWN_PATH = (
    "Unbekannter Pfad {path}: KORA bietet GET /v1/models und POST /v1/chat/completions. / "
    "Unknown path {path}."
)
API_WRONG_METHOD = "Methode {method} ist für {path} nicht erlaubt. / Method not allowed."
API_BAD_JSON = (
    "Der Inhalt der Anfrage ist kein gültiges JSON-Objekt. / The request body is not a "
    "valid JSON object."
)
API_BODY_TOO_LARGE = (
    "Die Anfrage ist größer als {limit} MB. / The request body exceeds {limit} MB."
)
API_FIELD_MISSING = "Das Feld „{field}“ fehlt. / The field '{field}' is missing."
API_FIELD_INVALID = "Das Feld „{field}“ ist ungültig: {why} / The field '{field}' is invalid."
API_NO_USER_MESSAGE = (
    "Die letzte Nachricht (außer Systemnachrichten) muss eine Frage mit der Rolle „user“ "
    "sein. / The last non-system message must have the role 'user'."
)
API_EMPTY_QUESTION = (
    "Die Frage ist leer: Bitte stellen Sie eine Frage in Worten. / The question is empty."
)
API_QUESTION_TOO_LONG = (
    "Die Frage ist zu lang ({length} Zeichen); KORA beantwortet Fragen bis {limit} Zeichen. "
    "/ The question is too long ({length} characters; at most {limit})."
)
API_UNSUPPORTED = (
    "Nicht unterstützt: {what}. KORA beantwortet Textfragen mit einer Antwort. / "
    "Not supported: {what}."
)
API_DATABASE_DOWN = (
    "Der API-Schlüssel kann gerade nicht geprüft werden: Die Datenbank für Konten und "
    "Schlüssel ist nicht erreichbar. Bitte später erneut versuchen; die Administration "
    "prüft den Datenbankserver (KORA_DATABASE_URL). / The API key cannot be checked right "
    "now (database unavailable): retry later."
)
API_INDEX_PROBLEM = "{problem} / KORA cannot answer right now."
API_FAILED = "{error} / The question could not be answered."
CONSOLE_API_KEYS = (
    "API (/v1): nur mit API-Schlüssel; {count} aktive(r) Schlüssel (kora admin token list)."
)
CONSOLE_API_OPEN = (
    "WARNUNG: Die API (/v1) ist ohne Schlüssel offen (KORA_API_OPEN=true): Jede Stelle, die "
    "diesen Server erreicht, kann Fragen stellen. Nur in einem vertrauenswürdigen Netz "
    "verwenden."
)

# the quality loop: feedback to test cases, missing topics, quality over time
QUALITY_HEADING = "Qualität"
QUALITY_NOTE = (
    "Rückmeldungen mit 👎, die neuesten zuerst. Mit „Aufnehmen“ wird eine Rückmeldung zum "
    "Testfall im eigenen Golden Set ({path}): Tragen Sie die Kernfakten ein, die eine "
    "richtige Antwort nennen muss (und wenn Sie wollen das Dokument, das sie belegt), oder "
    "markieren Sie die Frage als außerhalb des Bestands. `kora eval` prüft die Fälle gegen "
    "den aktuellen Index und schlägt fehl, sobald einer nicht mehr besteht."
)
QUALITY_REFRESH = "Rückmeldungen laden"
QUALITY_COLUMNS = ["Nr.", "Datum (UTC)", "Frage", "Antwort", "Quellen", "Kommentar", "Testfall"]
QUALITY_CHOICE = "Rückmeldung"
QUALITY_FACTS = "Erwartete Kernfakten (einer pro Zeile; Varianten mit | trennen)"
QUALITY_DOCUMENT = "Erwartetes Dokument (optional)"
QUALITY_OUT_OF_SCOPE = "Außerhalb des Bestands (KORA soll die Frage ablehnen)"
QUALITY_ACCEPT = "Aufnehmen"
QUALITY_NONE = "Keine Rückmeldungen mit 👎 (aufbewahrt werden die der letzten {days} Tage)."
QUALITY_COUNT = "{count} Rückmeldung(en) mit 👎; {cases} davon als Testfall aufgenommen."
QUALITY_PICK = "Bitte wählen Sie zuerst eine Rückmeldung aus."
QUALITY_UNKNOWN = (
    "Diese Rückmeldung gibt es nicht mehr (sie ist vielleicht älter als die "
    "Aufbewahrungsfrist). Bitte laden Sie die Liste neu."
)
QUALITY_NO_FACTS = (
    "Bitte tragen Sie mindestens einen erwarteten Kernfakt ein oder markieren Sie die Frage "
    "als außerhalb des Bestands."
)
QUALITY_BOTH = (
    "Eine Frage außerhalb des Bestands hat keine erwarteten Kernfakten: Bitte entweder "
    "Kernfakten (und Dokument) angeben oder „außerhalb des Bestands“ wählen."
)
QUALITY_UNKNOWN_DOCUMENT = "Das Dokument {doc_id} ist nicht im Index."
QUALITY_UNREADABLE = (
    "Die Datei des eigenen Golden Sets kann nicht gelesen werden ({path}); es wurde nichts "
    "geändert. Bitte prüfen oder verschieben Sie die Datei."
)
QUALITY_ACCEPTED = "Testfall {case_id} aufgenommen in {path}: {what}."
QUALITY_REPLACED = "Testfall {case_id} ersetzt in {path}: {what}."
QUALITY_WHAT_FACTS = "{count} Kernfakt(en)"
QUALITY_WHAT_DOCUMENT = ", erwartetes Dokument {doc_id}"
QUALITY_WHAT_OUT_OF_SCOPE = "außerhalb des Bestands, KORA soll ablehnen"

TOPICS_HEADING = "Fehlende Themen"
TOPICS_ON = (
    "Fragen, die KORA mangels Quelle abgelehnt hat, nach Thema gruppiert (ähnliche Fragen "
    "zusammengefasst), die häufigsten zuerst: Hierzu fehlen Dokumente. Gespeichert wird nur "
    "der Fragetext mit Zeit, ohne Person, Adresse oder Sitzung, für {days} Tage."
)
TOPICS_OFF = (
    "Abgelehnte Fragen werden nicht aufgezeichnet (KORA_RECORD_UNANSWERED ist aus). "
    "Eingeschaltet speichert KORA nur den Fragetext mit Zeit, ohne Person, Adresse oder "
    "Sitzung, für {days} Tage."
)
TOPICS_REFRESH = "Fehlende Themen anzeigen"
TOPICS_COLUMNS = ["Anzahl", "Thema", "weitere Beispielfragen", "zuletzt gefragt (UTC)"]
TOPICS_NONE = "Keine abgelehnten Fragen aufgezeichnet."
TOPICS_COUNT = "{questions} abgelehnte Frage(n) in {topics} Thema/Themen."
TOPICS_EXPORT = "Fehlende Themen als CSV exportieren"
TOPICS_EXPORT_NAME = "kora-fehlende-themen.csv"
TOPICS_EXPORT_DONE = "{topics} Themen exportiert."

HISTORY_HEADING = "Qualität im Verlauf"
HISTORY_REFRESH = "Verlauf anzeigen"
HISTORY_NOTE = (
    "Jeder Lauf von `kora eval` hängt seine Kennzahlen an {path} an (mitgeliefertes und "
    "eigenes Golden Set); dazu der Anteil 👍 an den bewerteten Antworten je Woche."
)
HISTORY_ALT = "Liniendiagramme der Qualitätskennzahlen über die Zeit"
HISTORY_PANELS = {
    "key_fact_recall": "Kernfakten in den Antworten",
    "hit@3": "Richtiges Dokument unter den ersten drei",
    "refusal_recall": "Fragen außerhalb des Bestands abgelehnt",
    "cases_passed": "Testfälle bestanden",
}
# chart texts: no emoji (the chart's font, DejaVu Sans, has none)
HISTORY_HELPFUL = "Anteil „hilfreich“ an bewerteten Antworten je Woche"
HISTORY_HELPFUL_SERIES = "hilfreich"
HISTORY_SETS = {"shipped": "mitgeliefert", "local": "eigenes"}
HISTORY_EMPTY = "Noch keine Läufe: `kora eval`"
HISTORY_NO_FEEDBACK = "Noch keine Bewertungen"
HISTORY_COLUMNS = ["Zeit (UTC)", "Version", "Set", "Fragen", "Kernfakten", "Treffer@3",
                   "abgelehnt (außerhalb)", "Testfälle bestanden"]
