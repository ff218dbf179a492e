import torch

from transformer_edu import AttentionCache, KVCache, MultiHeadAttention, Transformer, TransformerConfig


def kv(batch: int, length: int, fill: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys and values (B, H=2, L, d_k=3), rows numbered so that reordering shows."""
    k = torch.arange(batch, dtype=torch.float64)[:, None, None, None] + fill + torch.zeros(batch, 2, length, 3,
                                                                                       dtype=torch.float64)
    return k, -k


def test_append_mode_keeps_every_step():
    cache = AttentionCache()
    assert not cache.static and cache.length == 0 and cache.k is None
    k1, v1 = kv(2, 3, 0.0)
    k2, v2 = kv(2, 1, 10.0)
    assert all(torch.equal(a, b) for a, b in zip(cache.add(k1, v1), (k1, v1)))
    k, v = cache.add(k2, v2)
    assert cache.length == 4 and k.shape == (2, 2, 4, 3)
    assert torch.equal(k, torch.cat([k1, k2], dim=2)) and torch.equal(v, torch.cat([v1, v2], dim=2))
    assert cache.k is k and cache.v is v


def test_static_mode_holds_one_memory():
    cache = AttentionCache(static=True)
    k1, v1 = kv(2, 5, 0.0)
    cache.add(k1, v1)
    assert cache.static and cache.length == 5
    k2, v2 = kv(2, 4, 10.0)
    k, v = cache.add(k2, v2)  # stored, not appended
    assert cache.length == 4 and torch.equal(k, k2) and torch.equal(v, v2)


def test_select_reorders_and_repeats_batch_rows():
    cache = AttentionCache()
    cache.select(torch.tensor([0, 0]))  # an empty cache: nothing to do
    assert cache.k is None
    k, v = kv(3, 2, 0.0)
    cache.add(k, v)
    cache.select(torch.tensor([2, 2, 0]))
    assert torch.equal(cache.k, k[[2, 2, 0]]) and torch.equal(cache.v, v[[2, 2, 0]])


def test_kv_cache_holds_one_attention_cache_per_module():
    first, second = MultiHeadAttention(6, 2), MultiHeadAttention(6, 2)
    cache = KVCache()
    assert cache.length == 0 and cache.batch_size is None and cache.memory_length is None
    own = cache.of(first)
    assert cache.of(first) is own and cache.of(second, static=True) is not own
    assert not own.static and cache.of(second).static  # the mode is set when the cache is made
    own.add(*kv(3, 4, 0.0))
    cache.of(second).add(*kv(3, 7, 0.0))
    assert cache.length == 4 and cache.batch_size == 3 and cache.memory_length == 7


def test_kv_cache_select_reorders_every_attention_cache():
    cache = KVCache()
    modules = [MultiHeadAttention(6, 2) for _ in range(3)]
    kept = []
    for i, module in enumerate(modules):
        k, v = kv(3, 2 + i, 10.0 * i)
        cache.of(module, static=i == 2).add(k, v)
        kept.append((k, v))
    index = torch.tensor([1, 1, 2])
    cache.select(index)
    for module, (k, v) in zip(modules, kept):
        assert torch.equal(cache.of(module).k, k[index]) and torch.equal(cache.of(module).v, v[index])
    assert cache.batch_size == 3 and cache.memory_length == 4


def test_a_models_cache_has_one_entry_per_attention_and_reorders_like_a_new_batch():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.small(vocab_size=12, d_model=16, n_heads=4, d_ff=32)).double().eval()
    src, tgt = torch.randint(3, 12, (3, 5)), torch.randint(3, 12, (3, 4))
    memory = model.encode(src)
    cache = model.new_cache()
    for t in range(3):
        model.decode(tgt[:, t:t + 1], memory, cache=cache)
    layers = model.attention_layers()
    assert set(cache.caches) == {*layers["decoder_self"], *layers["cross"]}  # the encoder needs no cache
    assert all(cache.of(m).static for m in layers["cross"]) and not any(cache.of(m).static for m in layers["decoder_self"])
    assert (cache.length, cache.batch_size, cache.memory_length) == (3, 3, 5)
    # Reordering the cache = decoding the reordered batch from the start.
    index = torch.tensor([2, 0, 0])
    cache.select(index)
    reordered = model.new_cache()
    for t in range(3):
        model.decode(tgt[index, t:t + 1], memory[index], cache=reordered)
    torch.testing.assert_close(model.decode(tgt[index, 3:4], memory[index], cache=cache),
                               model.decode(tgt[index, 3:4], memory[index], cache=reordered), atol=1e-12, rtol=0)
