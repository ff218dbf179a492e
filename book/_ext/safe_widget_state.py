"""Stored widget state that no string in it can break out of: every `<`, `>` and `&` written as a JSON escape.

myst-nb (1.4) writes a notebook's stored widget state into the page as

    <script type="application/vnd.jupyter.widget-state+json">{...}</script>

and rewrites only the exact lower-case `</script>` inside it. A string anywhere in that state (a token label in
a view's data, a text box's value) spelled `</SCRIPT>`, `</script >` or `</ScRiPt/>` ends the element early: the
rest of the state becomes live HTML, its scripts run, and no widget on the page renders. `<!--<script>` does not
end the element but makes the HTML parser carry it past its real end, with the same result for the widgets.

This extension re-writes that state for every page, after myst-nb has added it, from the parsed data: each `<`
becomes `\\u003c` (what ipywidgets' own HTML export does), so the element's text contains no `<` at all and no
spelling of an end tag or a comment can occur in it, whatever myst-nb escapes. `>`, `&`, U+2028 and U+2029 are
escaped too (`\\u003e`, `\\u0026`, `\\u2028`, `\\u2029`), as JSON-in-HTML escapers usually do; none of them can end
the element, and together they cost a few hundred bytes per page. All five occur in JSON text only inside
strings, so the text stays valid JSON, and `JSON.parse` in the page (the widget manager parses the element's
text) gives back exactly the original strings. The same is done for each widget-view element
(`<script type="application/vnd.jupyter.widget-view+json">`, one per widget output, naming its model).

Registered in _config.yml (`sphinx.local_extensions` gives the folder, `sphinx.config.extensions` the name).
A state it cannot parse stops the build rather than being written unchecked.
"""
from __future__ import annotations

import json
import re

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# `<` is the one character that can start an end tag or a comment inside a <script> element; `>`, `&` and the two
# line separators (which JavaScript before ES2019 refused in a string literal) are escaped as well, as JSON-in-HTML
# escapers usually do. JSON text has all five only inside strings, where these escapes mean the same characters.
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_UNSAFE = re.compile("[<>&\u2028\u2029]")
# myst-nb's widget-view output, exactly as its renderer writes it (render_widget_view in myst_nb/core/render.py).
_VIEW_START = f'<script type="{WIDGET_VIEW}">'
_VIEW_ELEMENT = re.compile(re.escape(_VIEW_START) + "(.*)</script>", re.S)


def script_safe_json(data) -> str:
    """`data` as JSON text with no `<`, `>`, `&`, U+2028 or U+2029 in it; `json.loads` of it gives `data` back."""
    try:  # NaN and Infinity are not JSON: JSON.parse in the page would reject the whole state
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as err:
        raise ExtensionError(f"safe_widget_state: the widget JSON cannot be read in a browser: {err}") from err
    text = _UNSAFE.sub(lambda m: _ESCAPES[m.group()], text)
    if json.loads(text) != data:  # cannot happen with the escapes above; checked because the page depends on it
        raise ExtensionError("safe_widget_state: the escaped widget JSON does not read back as the original")
    return text


def _parse(text: str, what: str, pagename: str):
    # myst-nb's own escaping turned `</script>` into `<\/script>`; `\/` is a JSON escape for `/`, so the text
    # it wrote parses to the original data.
    try:
        return json.loads(text)
    except ValueError as err:
        raise ExtensionError(f"safe_widget_state: {pagename}: the {what} is not valid JSON ({err}); "
                             f"refusing to write it into the page") from err


def escape_widget_state(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """html-page-context: replace the body of the page's widget-state script with its escaped re-serialisation."""
    scripts = context.get("script_files")
    if not scripts:
        return
    rewritten = []
    for js in scripts:
        attributes = getattr(js, "attributes", None) or {}
        if attributes.get("type") == WIDGET_STATE and not getattr(js, "filename", None):
            state = _parse(attributes.get("body", ""), "stored widget state", pagename)
            js = type(js)(js.filename, priority=js.priority, **{**attributes, "body": script_safe_json(state)})
        rewritten.append(js)
    context["script_files"] = rewritten


def escape_widget_views(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """doctree-resolved: re-serialise each widget-view element (raw HTML written by myst-nb) the same way."""
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if not text.lstrip().startswith(_VIEW_START) or "html" not in raw.get("format", "").split():
            continue
        match = _VIEW_ELEMENT.fullmatch(text.strip())
        if match is None:
            raise ExtensionError(f"safe_widget_state: {docname}: a widget-view element not in myst-nb's layout: "
                                 f"{text[:200]!r}")
        view = _parse(match.group(1), "widget-view element", docname)
        new = nodes.raw("", f'<script type="{WIDGET_VIEW}">{script_safe_json(view)}</script>', format="html")
        raw.replace_self(new)


def setup(app: Sphinx) -> dict:
    # After myst-nb's own html-page-context listener (default priority 500), which adds the state script.
    app.connect("html-page-context", escape_widget_state, priority=900)
    app.connect("doctree-resolved", escape_widget_views)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
