"""transformer_edu: the 2017 encoder-decoder Transformer, one module per concept. Re-exports only."""
from .ablation import ablate_heads, head_ablation_scores
from .attention import scaled_dot_product_attention
from .beam import beam_search
from .bert import BERT, BERTConfig, fill_mask, mask_tokens, masked_lm_loss
from .block import AttentionWeights, Block, Stack
from .bpe import BPETokenizer
from .checkpoint import load_checkpoint, save_checkpoint
from .config import BlockConfig, TransformerConfig
from .data import Seq2SeqBatch, build_tokenizers, iterate_batches, make_batch, make_dataset
from .decoder import Decoder, DecoderLayer
from .decoding import DecodingStep, decode_step_by_step, greedy_decode, sample
from .embeddings import TokenEmbedding
from .encoder import Encoder, EncoderLayer
from .evaluation import exact_match, held_out_evaluator, predict
from .feed_forward import PositionwiseFeedForward, SwiGLU
from .flops import FlopCount, forward_flops, training_flops
from .gpt import GPT, GPTConfig, generate
from .interop import (copy_attention_from_torch, copy_attention_to_torch, copy_stacks_from_torch,
                      copy_stacks_to_torch, from_hf_bert, torch_transformer_like)
from .label_smoothing import LabelSmoothingLoss
from .kv_cache import AttentionCache, KVCache
from .masks import causal_mask, padding_mask, target_mask, to_torch_convention
from .model import Transformer, count_parameters
from .multi_head_attention import MultiHeadAttention
from .normalization import RMSNorm
from .positional_encoding import LearnedPositionalEncoding, PositionalEncoding, sinusoidal_table
from .rotary import apply_rotary
from .protocol import Model, Seq2SeqModel
from .tokenizer import CharTokenizer, Tokenizer, WordTokenizer
from .training import make_optimizer, noam_lr, train

__all__ = [
    "AttentionCache", "AttentionWeights", "Block", "BlockConfig", "Decoder", "DecoderLayer", "DecodingStep",
    "beam_search", "decode_step_by_step",
    "greedy_decode", "sample", "Encoder", "EncoderLayer", "KVCache",
    "LearnedPositionalEncoding", "MultiHeadAttention", "PositionalEncoding", "PositionwiseFeedForward",
    "Seq2SeqModel", "Stack", "TokenEmbedding", "Transformer", "TransformerConfig", "causal_mask",
    "copy_attention_from_torch", "copy_attention_to_torch", "copy_stacks_from_torch", "copy_stacks_to_torch",
    "count_parameters", "padding_mask", "scaled_dot_product_attention", "sinusoidal_table", "target_mask",
    "to_torch_convention", "torch_transformer_like",
    "BPETokenizer", "CharTokenizer", "Tokenizer", "WordTokenizer", "Seq2SeqBatch", "build_tokenizers",
    "iterate_batches", "make_batch", "make_dataset", "LabelSmoothingLoss", "make_optimizer", "noam_lr", "train",
    "exact_match", "held_out_evaluator", "predict", "load_checkpoint", "save_checkpoint", "ablate_heads",
    "head_ablation_scores", "GPT", "GPTConfig", "generate", "Model", "RMSNorm", "SwiGLU", "apply_rotary",
    "FlopCount", "forward_flops", "training_flops",
    "BERT", "BERTConfig", "fill_mask", "from_hf_bert", "mask_tokens", "masked_lm_loss",
]
