"""transformer_edu: the 2017 encoder-decoder Transformer, one module per concept. Re-exports only."""
from .ablation import ablate_heads, head_ablation_scores
from .attention import scaled_dot_product_attention
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TransformerConfig
from .data import Seq2SeqBatch, build_tokenizers, iterate_batches, make_batch, make_dataset
from .decoder import Decoder, DecoderLayer, KVCache
from .decoding import DecodingStep, beam_search, decode_step_by_step, greedy_decode, sample
from .embeddings import TokenEmbedding
from .encoder import Encoder, EncoderLayer
from .evaluation import exact_match, held_out_evaluator, predict
from .feed_forward import PositionwiseFeedForward
from .interop import (copy_attention_from_torch, copy_attention_to_torch, copy_stacks_from_torch,
                      copy_stacks_to_torch, torch_transformer_like)
from .label_smoothing import LabelSmoothingLoss
from .masks import causal_mask, combine_masks, padding_mask, target_mask, to_torch_convention
from .model import AttentionWeights, Transformer, count_parameters
from .multi_head_attention import MultiHeadAttention
from .positional_encoding import LearnedPositionalEncoding, PositionalEncoding, sinusoidal_table
from .residual import AddNorm
from .tokenizer import BPETokenizer, CharTokenizer, Tokenizer, WordTokenizer
from .training import make_optimizer, noam_lr, train

__all__ = [
    "AddNorm", "AttentionWeights", "Decoder", "DecoderLayer", "DecodingStep", "beam_search", "decode_step_by_step",
    "greedy_decode", "sample", "Encoder", "EncoderLayer", "KVCache",
    "LearnedPositionalEncoding", "MultiHeadAttention", "PositionalEncoding", "PositionwiseFeedForward",
    "TokenEmbedding", "Transformer", "TransformerConfig", "causal_mask", "combine_masks",
    "copy_attention_from_torch", "copy_attention_to_torch", "copy_stacks_from_torch", "copy_stacks_to_torch",
    "count_parameters", "padding_mask", "scaled_dot_product_attention", "sinusoidal_table", "target_mask",
    "to_torch_convention", "torch_transformer_like",
    "BPETokenizer", "CharTokenizer", "Tokenizer", "WordTokenizer", "Seq2SeqBatch", "build_tokenizers",
    "iterate_batches", "make_batch", "make_dataset", "LabelSmoothingLoss", "make_optimizer", "noam_lr", "train",
    "exact_match", "held_out_evaluator", "predict", "load_checkpoint", "save_checkpoint", "ablate_heads",
    "head_ablation_scores",
]
