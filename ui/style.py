"""Theme, CSS and the one small script of the chat UI: system fonts only, so the page fetches
nothing from the web."""

from __future__ import annotations

import gradio as gr

# System font stacks: no Google Fonts, and no font files even from the local server.
SANS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts."""
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=SANS, font_mono=MONO)


CSS = """
.nd-answer .nd-query, .nd-sources .nd-query { font-size: 0.85em; opacity: 0.75; margin-bottom: 0.4em; }
.nd-answer .nd-warning { font-size: 0.85em; margin-top: 0.4em; color: var(--color-accent); }
.nd-answer .nd-abstained { font-style: italic; }
.nd-answer .nd-flagged { opacity: 0.6; text-decoration: line-through dotted; }
.nd-answer .nd-flagged-list { margin-top: 0.5em; font-size: 0.9em; opacity: 0.85; }
.nd-answer .nd-differ { margin-top: 0.4em; padding: 0.3em 0.6em; border-left: 3px solid #b45309;
  background: rgba(180, 83, 9, 0.08); }
.nd-answer .nd-differ-update { border-left-color: #2563eb; background: rgba(37, 99, 235, 0.08); }
.nd-answer .nd-flag { font-size: 0.8em; font-weight: 600; color: #b45309; }
.nd-answer.nd-notice { color: #b91c1c; }
a.nd-cite { color: var(--link-text-color, #2563eb); text-decoration: underline; text-underline-offset: 2px;
            font-weight: 600; font-size: 0.85em; vertical-align: super; padding: 0 1px; cursor: pointer; }
a.nd-cite:hover { color: var(--link-text-color-hover, #1d4ed8); background: var(--color-accent-soft); }
.nd-sources { display: flex; flex-direction: column; gap: 0.6em; }
.nd-sources.nd-hide { display: none; }
.nd-sources .nd-turn-label { font-size: 0.85em; opacity: 0.75; }
.nd-sources.nd-empty, .nd-sources .nd-none { opacity: 0.7; font-style: italic; }
.nd-sources .nd-heading { font-size: 1em; font-weight: 600; margin: 0.2em 0 0; }
.nd-card { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
           padding: 0.6em 0.8em; background: var(--block-background-fill); scroll-margin-top: 1em; }
.nd-card:target { outline: 2px solid var(--color-accent); }
.nd-card-head { font-weight: 600; }
.nd-card .nd-num { color: var(--color-accent); }
.nd-card .nd-meta { font-size: 0.8em; opacity: 0.75; margin: 0.15em 0 0.4em; }
.nd-card .nd-also { font-size: 0.8em; margin: -0.2em 0 0.4em; }
.nd-tl { margin: 0.3em 0; padding-left: 1.2em; }
.nd-tl-entry { margin-bottom: 0.5em; }
.nd-tl-date { font-weight: 600; margin-right: 0.3em; }
.nd-tl-entry .nd-also, .nd-tl-entry .nd-meta { font-size: 0.8em; }
.nd-card .nd-passage { margin: 0; padding-left: 0.7em; border-left: 3px solid var(--border-color-primary);
                       font-size: 0.9em; max-height: 14em; overflow-y: auto; }
.nd-card mark { background: #fde68a; color: #111827; padding: 0 1px; border-radius: 2px; }
.nd-more summary { cursor: pointer; font-weight: 600; margin: 0.3em 0; }
.nd-more .nd-card { margin-top: 0.5em; }
.nd-upload .nd-upload-ok { color: #15803d; font-weight: 600; }
.nd-upload .nd-upload-error { color: #b91c1c; font-weight: 600; }
.nd-upload .nd-report { white-space: pre-wrap; font-size: 0.8em; max-height: 12em; overflow-y: auto; }
/* Gradio floats the chat's label and its buttons over the messages; start the scrolled messages
   below them, so that neither covers a line of text. */
#nd-chat .bubble-wrap { margin-top: var(--nd-chat-top, 30px); height: calc(100% - var(--nd-chat-top, 30px)); }
#nd-sources-panel { max-height: 640px !important; overflow-y: auto !important; }
/* The panel scrolls inside its box: while more lies below, say so over a fade (SCRIPT sets the class). */
#nd-sources-panel.nd-more-below::after { content: "More sources below: scroll ↓"; position: sticky; bottom: 0;
  display: block; text-align: center; font-size: 0.8em; font-weight: 600; padding: 1.6em 0 0.3em; margin-top: -2.2em;
  background: linear-gradient(to bottom, transparent, var(--block-background-fill) 55%); pointer-events: none; }
#nd-filters .nd-filters-on { font-size: 0.85em; padding: 0.3em 0.6em; border-left: 3px solid var(--color-accent);
  background: var(--color-accent-soft); }
/* A phone stacks the columns: keep the chat short so the sources follow the answer closely. */
@media (max-width: 720px) {
  #nd-chat { height: 50vh !important; min-height: 280px; }
  #nd-sources-panel { max-height: 70vh !important; }
}
"""

# Each answer's [n] shows that answer's own cards: the panel holds the recent answers' sources,
# all but the latest hidden, and a click on a marker unhides its answer's (before the browser
# follows the link to the card). Capture phase, so the chat's own click handling cannot stop it.
SCRIPT = """
() => {
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.nd-cite") : null;
    const match = link && /^#nd-src-(\\d+)-\\d+$/.exec(link.getAttribute("href") || "");
    if (!match) return;
    for (const panel of document.querySelectorAll("#nd-sources-panel .nd-sources[data-turn]")) {
      panel.classList.toggle("nd-hide", panel.dataset.turn !== match[1]);
    }
    const card = document.getElementById(link.getAttribute("href").slice(1));
    if (card) requestAnimationFrame(() => card.scrollIntoView({block: "nearest"}));
  }, true);
  // "More sources below" while the sources panel holds more than its box shows.
  let queued = false;
  const hint = () => {
    queued = false;
    const panel = document.getElementById("nd-sources-panel");
    if (panel) panel.classList.toggle("nd-more-below", panel.scrollHeight - panel.scrollTop - panel.clientHeight > 4);
  };
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(hint); } };
  document.addEventListener("scroll", (event) => {
    if (event.target instanceof Element && event.target.id === "nd-sources-panel") later();
  }, true);
  document.addEventListener("toggle", later, true);  // a <details> of passages opened or closed
  window.addEventListener("resize", later);
  new MutationObserver(later).observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""
