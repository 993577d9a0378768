//! The sampler: temperature, top-k, top-p, min-p and a presence penalty over a recent window.

use super::*;

/// The sampler chain the Qwen 3.5 guidance describes (presence penalty, top-k, top-p, min-p,
/// temperature), run by llama.cpp on a short candidate list. The penalty only lowers the logits
/// of at most `PENALTY_WINDOW` recent tokens, so the `top_k + PENALTY_WINDOW` highest logits
/// hold the `top_k` the chain keeps: picking those first from the logits gives the same token as
/// running the chain over the whole vocabulary (248K entries for Qwen 3.5), without building a
/// 3 MB candidate array for every token.
pub(super) struct Sampler {
    pub(super) chain: LlamaSampler,
    /// Candidates taken from the logits; 0 runs the chain over the whole vocabulary.
    pub(super) prefilter: usize,
}

impl Sampler {
    pub(super) fn new(model: &LlamaModel, s: &Sampling) -> Sampler {
        let mut chain = Vec::new();
        if s.presence_penalty != 0.0 {
            chain.push(LlamaSampler::penalties(
                model.n_vocab(),
                PENALTY_WINDOW,
                1.0,
                0.0,
                s.presence_penalty,
            ));
        }
        if s.top_k > 0 {
            chain.push(LlamaSampler::top_k(s.top_k));
        }
        chain.push(LlamaSampler::top_p(s.top_p, 1));
        chain.push(LlamaSampler::min_p(s.min_p, 1));
        if s.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            chain.push(LlamaSampler::temp(s.temperature));
            chain.push(LlamaSampler::dist(s.seed));
        }
        let prefilter = if s.top_k > 0 {
            (s.top_k + PENALTY_WINDOW) as usize
        } else {
            0
        };
        Sampler {
            chain: LlamaSampler::chain_simple(chain),
            prefilter,
        }
    }

    /// Samples the next token from the logits at `idx` and records it (for the penalty).
    pub(super) fn sample(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> LlamaToken {
        if self.prefilter == 0 {
            return self.chain.sample(ctx, idx);
        }
        let top = highest(ctx.get_logits_ith(idx), self.prefilter);
        let first = top.first().map_or(LlamaToken(0), |t| t.id());
        let mut candidates = LlamaTokenDataArray::new(top, false);
        candidates.apply_sampler(&mut self.chain);
        let token = candidates.selected_token().unwrap_or(first);
        self.chain.accept(token);
        token
    }
}

/// The `n` highest logits as candidates, best first.
pub(super) fn highest(logits: &[f32], n: usize) -> Vec<LlamaTokenData> {
    #[derive(PartialEq)]
    struct Entry(f32, i32);
    impl Eq for Entry {}
    impl PartialOrd for Entry {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Entry {
        // Reversed: the heap's top is the smallest kept logit.
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
        }
    }
    let n = n.min(logits.len());
    let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(n + 1);
    for (i, &l) in logits.iter().enumerate() {
        if heap.len() < n {
            heap.push(Entry(l, i as i32));
        } else if heap.peek().is_some_and(|m| l > m.0) {
            heap.pop();
            heap.push(Entry(l, i as i32));
        }
    }
    heap.into_sorted_vec()
        .into_iter()
        .map(|Entry(l, i)| LlamaTokenData::new(LlamaToken(i), l, 0.0))
        .collect()
}
