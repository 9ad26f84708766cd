"""Names for what the web page hands to the server, so a handler's signature says what
it receives instead of ``Any``.

These are real names at run time, not only for the type checker: Gradio resolves every
handler's annotations with ``typing.get_type_hints`` (see ui/handlers.py).
"""

from __future__ import annotations

from typing import TypeAlias

import gradio as gr

# whatever a component or ``gr.State`` sends back: the server checks it, never trusts it
BrowserValue: TypeAlias = object
# the admin session token kept in the page's state (a string once logged in)
SessionToken: TypeAlias = BrowserValue
# a request when Gradio passes one; tests and internal callers may pass None
MaybeRequest: TypeAlias = gr.Request | None
# what a handler returns to update the page (gr.update(...) or a plain value per output)
PageUpdate: TypeAlias = object
