"""Interactive views that work in the static HTML book (no kernel, no network) and in live JupyterLab.

Each view is an `anywidget.AnyWidget`: Python checks the inputs and computes the numbers (rounded, plain
lists, in the synced `data` trait); hand-written JavaScript (view_common.js + view_<name>.js in this folder,
no imports, no URLs) draws SVG and reacts to the controls in the browser. With nbclient's
`store_widget_state=True` the data is saved in the notebook, so the book's pages react with no kernel. The
only "http" string in the JavaScript is the SVG namespace name `http://www.w3.org/2000/svg`, which is an
identifier and is never fetched. Tokens are set with `textContent`, never parsed as HTML, so a token
`<img src=x onerror=alert(1)>` shows as that literal text. Control state (chosen layer, head ...) lives in
the browser only: nothing is sent back to the kernel.

Every view's root element has `data-te-view="<kind>"`; every control has `data-te-control="<name>"`.
Controls are native <select>, <input type=range> and checkboxes; tokens and points are focusable with Tab
(focus highlights like hover). Colours: viridis for weights, RdBu reversed for signed values, Okabe-Ito plus
marker shapes for groups; light and dark themes (the book's, JupyterLab's) via CSS variables.

One scripted interaction per view, and what changes (for the browser tests):

- AttentionExplorer, data-te-view="attention":
  select[data-te-control=head]: set value to "1" (enabled when the kind has 2+ heads), dispatch "change";
  the fill attributes of the heatmap cells (svg g[data-te-role=cells] > rect) change.
  With one head: focus the first g[data-te-control=query] (dispatch "focus"): its row outline
  g[data-te-role=highlight] becomes visibility="visible" and p.te-readout names the keys it attends to.
  Also select[data-te-control=kind] and select[data-te-control=layer] (enabled when there are several).
- MaskedAttentionExplorer, data-te-view="masked-attention":
  input[data-te-control=causal-mask]: click it (checked -> true; it dispatches "change"); the cells above
  the diagonal get class="te-masked", their text becomes "0.00", and the other fills in those rows change.
  Also input[data-te-control=padding-mask] (enabled when there are padding positions) and
  select[data-te-control=show] ("weights" / "scores").
- PositionalEncodingExplorer, data-te-view="positional-encoding":
  input[data-te-control=dimension]: set value to "5", dispatch "input"; the `points` attribute of
  polyline[data-te-role=curve] changes. input[data-te-control=position]: set value to "3", dispatch "input";
  the `height` attributes of g[data-te-role=bars] > rect change.
- EmbeddingExplorer, data-te-view="embedding":
  select[data-te-control=point]: set value to "0", dispatch "change"; g[data-te-role=neighbour-lines] gets
  one <line> per neighbour (k of them) and p.te-readout names the neighbours. (Hovering, clicking or
  focusing a g[data-te-control=point-marker] does the same.)
- TokenExplorer, data-te-view="tokens":
  select[data-te-control=text]: set value to "1" (enabled when there are 2+ examples), dispatch "change";
  the text of the chips (span[data-te-role=chip] > span.te-piece) changes. select[data-te-control=tokenizer]
  picks one tokenizer or "all". A note says that this view cannot tokenize new text.
- DistributionExplorer, data-te-view="distribution":
  input[data-te-control=temperature]: set value to "0" (the lowest temperature), dispatch "input"; the
  `width` attributes of rect[data-te-role=bar] change (the top bar grows, unless it was already at 1).
  select[data-te-control=position] exists only when the logits are 2-D (several positions).
- LayerStatisticsExplorer, data-te-view="layer-statistics":
  select[data-te-control=metric]: set value to "1" (enabled when there are 2+ metrics), dispatch "change";
  the `d` attribute of every path[data-te-role=curve] changes (one path per series, data-te-series=<index>).
  input[data-te-control=series] (one checkbox per series, in the legend, data-te-index=<index>): click it;
  its curve and markers get visibility="hidden" and the y axis refits the ticked series.
  input[data-te-control=log-scale]: click it; the curves and the y ticks (g[data-te-role=y-ticks]) change.
  input[data-te-control=layer]: set value to "3", dispatch "input"; line[data-te-role=guide] moves and
  p.te-readout gives every ticked series' value at that layer (hovering over the chart does the same).

- Quiz, data-te-view="quiz" (quiz.py; a chapter's self-check questions): each div[data-te-role=question]
  (data-te-kind "choice" or "number") has button[data-te-control=check]. Choice: click an
  input[data-te-control=option] (radio), then Check; div[data-te-role=feedback] gets data-te-state "right" or
  "wrong" and the picked option's explanation. Number: set input[data-te-control=number]'s value, then Check
  (or Enter): "right" with the explanation, or "wrong" with the hint and button[data-te-control=reveal] shown,
  whose click gives data-te-state "revealed", the answer and the explanation. p[data-te-role=score] counts them.

Live views (live.py): the trained model itself runs in the page (engine.js, a JavaScript copy of the package
checked against torch by tests/test_engine_browser.py), so the reader can type. Their data holds only
settings; the model comes from book/_static/live/<name>.js in the book and from the kernel in JupyterLab. Each
has the text box input[data-te-control=text] (set its value, dispatch "input": everything redraws, or
[data-te-role=message] says what is wrong with the text) and:

- LiveTranslator, data-te-view="live-translator": [data-te-role=output] is the greedy output and
  table[data-te-role=shapes] lists every tensor with its shape.
- TokenJourney, data-te-view="token-journey": button[data-te-control=next] (click; also the Right arrow key
  in the view) moves [data-te-role=step-name] to the next sub-layer; select[data-te-control=side] and
  select[data-te-control=position] (dispatch "change") and input[data-te-control=step] choose what to follow.
- LiveDecoding, data-te-view="live-decoding": [data-te-role=output-greedy], output-sample and output-beam;
  input[data-te-control=temperature] and input[data-te-control=seed] change output-sample;
  select[data-te-control=beam-size] changes table[data-te-role=beam]; input[data-te-control=step] (dispatch
  "input") moves the chosen rect[data-te-role=bar].
- LiveAttention, data-te-view="live-attention": input[data-te-control=ablate] (one checkbox per head, with
  data-te-kind, data-te-layer and data-te-head; click it) switches that head off: [data-te-role=output-ablated]
  and table[data-te-role=probabilities] show the output without it; select[data-te-control=kind], layer and
  head choose the heatmap.
- LiveGeneration, data-te-view="live-generation" (a GPT checkpoint): its text box is a <textarea> (Ctrl+Enter
  generates); button[data-te-control=generate] (click) runs a new generation, which the page writes a slice at a
  time: [data-te-role=status] gets data-te-state="done" when it ends; [data-te-role=output] is the prompt and the
  text written; input[data-te-control=step] (dispatch "input") moves the chosen rect[data-te-role=bar] and
  [data-te-role=context]; input[data-te-control=temperature], select[data-te-control=top-k] and top-p,
  input[data-te-control=seed] and input[data-te-control=tokens] are the settings of the next run.

Size: the data is about 6-8 bytes per number once rounded; each view also carries its JavaScript and CSS
(measured: 18-23 KB per view, 30 KB for LayerStatisticsExplorer; `view.data_size` gives the data's bytes).
Guidance per view is in its docstring; inputs beyond a view's `max_numbers` raise ValueError instead of
silently making a page of megabytes.
"""
from __future__ import annotations

from .attention import AttentionExplorer, MaskedAttentionExplorer
from .base import rounded, significant
from .distribution import DistributionExplorer
from .embedding import EmbeddingExplorer, nearest_neighbours
from .layer_statistics import SERIES_LIMIT, LayerStatisticsExplorer
from .live import LiveAttention, LiveDecoding, LiveGeneration, LiveTranslator, TokenJourney, ablation_measurements
from .positional import PositionalEncodingExplorer
from .quiz import Quiz, load_quiz
from .tokens import STATIC_TOKENS_NOTE, TokenExplorer, token_pairs

__all__ = ["SERIES_LIMIT", "STATIC_TOKENS_NOTE", "AttentionExplorer", "DistributionExplorer", "EmbeddingExplorer",
           "LayerStatisticsExplorer", "LiveAttention", "LiveDecoding", "LiveGeneration", "LiveTranslator", "MaskedAttentionExplorer",
           "PositionalEncodingExplorer", "Quiz", "TokenExplorer", "TokenJourney", "ablation_measurements",
           "load_quiz", "nearest_neighbours", "rounded", "significant", "token_pairs"]
