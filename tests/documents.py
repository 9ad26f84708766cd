"""Documents the reader tests and the bad-input tests write themselves: PDFs made with
reportlab, plain or encrypted."""

from __future__ import annotations

from pathlib import Path


def make_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    if title is not None:
        pdf.setTitle(title)
    for lines in pages:
        pdf.setFont("Helvetica", 12)
        y = 750
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()
    return path


def encrypted_pdf(path: Path, *, user_password: str, text: str) -> Path:
    """A one-page PDF encrypted for ``user_password`` ("" opens without asking)."""
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), encrypt=StandardEncryption(user_password, ownerPassword="x"))
    pdf.drawString(72, 750, text)
    pdf.showPage()
    pdf.save()
    return path
