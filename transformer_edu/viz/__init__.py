"""Figures and interactive views for the book. Re-exports only.

plots: matplotlib figures (static, render everywhere). views: anywidget views that also react in the static
book. widgets (ipywidgets, for live recomputation in a kernel) and bertviz_views are imported only on request:
`from transformer_edu.viz import widgets`.
"""
from . import plots, views
from .plots import (attention_heatmap, embedding_projection, head_grid, learning_rate_schedule, loss_curves,
                    model_diagram, parameter_breakdown, pca_2d, positional_encoding_heatmap, positional_similarity)
from .views import (AttentionExplorer, DistributionExplorer, EmbeddingExplorer, LayerStatisticsExplorer,
                    MaskedAttentionExplorer, PositionalEncodingExplorer, TokenExplorer, nearest_neighbours)

__all__ = [
    "AttentionExplorer", "DistributionExplorer", "EmbeddingExplorer", "LayerStatisticsExplorer",
    "MaskedAttentionExplorer",
    "PositionalEncodingExplorer", "TokenExplorer", "attention_heatmap", "embedding_projection",
    "head_grid", "learning_rate_schedule", "loss_curves", "model_diagram", "nearest_neighbours", "parameter_breakdown",
    "pca_2d", "plots", "positional_encoding_heatmap", "positional_similarity", "views",
]
