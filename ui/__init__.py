"""Every way a person reaches KORA: the `kora` command line (``ui.cli``) and the web app
(``ui.app``: layout and serving; ``ui.handlers``, ``ui.render`` and
``ui.shared_assistant`` behind it). Nothing is imported here, so the command line starts
without loading Gradio."""
