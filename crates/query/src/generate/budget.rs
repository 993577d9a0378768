//! The one token budget of a question. A model's context is shared between what it writes (the
//! answer, bounded thinking and the text that closes it) and what it reads (the system prompt,
//! the question, the template's markup and the sources). The facade packs sources into
//! [`Budget::sources`], an estimate made with the embedder's tokenizer; the model's worker checks
//! the exact fit against [`Budget::prompt`] with its own tokenizer and drops sources from the end;
//! [`as_read`] then makes the packing report what the model read.

use crate::config::Thinking;
use crate::types::Packing;

/// What closes a thinking block that ran out of budget.
pub(crate) const THINK_CLOSE: &str = "\n</think>\n\n";

/// Tokens the chat template's markup adds around the system prompt and the question (an
/// estimate; the worker's check is exact).
const TEMPLATE_TOKENS: usize = 64;

/// Tokens kept free beyond the answer and thinking.
const MARGIN: usize = 8;

/// One question's share of a model's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Tokens of context one question may use.
    pub context: usize,
    /// Most answer tokens.
    pub max_tokens: u32,
    /// Thinking off, or bounded by `thinking_budget`.
    pub thinking: Thinking,
    /// Most thinking tokens when thinking is bounded.
    pub thinking_budget: u32,
}

impl Budget {
    /// Most thinking tokens before the block is closed (0 when thinking is off).
    pub fn thinking_limit(&self) -> usize {
        match self.thinking {
            Thinking::Bounded => self.thinking_budget as usize,
            Thinking::Off => 0,
        }
    }

    /// Tokens kept for what the model writes: the answer, thinking and the text closing it
    /// (counted as one token a byte), and a small margin.
    pub fn written(&self) -> usize {
        let close = match self.thinking {
            Thinking::Bounded => THINK_CLOSE.len(),
            Thinking::Off => 0,
        };
        self.max_tokens as usize + self.thinking_limit() + close + MARGIN
    }

    /// Tokens the whole prompt may take.
    pub fn prompt(&self) -> usize {
        self.context.saturating_sub(self.written())
    }

    /// Tokens left for sources after `system`, `question` and the template's markup, counted
    /// with `count`.
    pub fn sources(&self, system: &str, question: &str, count: &dyn Fn(&str) -> usize) -> usize {
        self.prompt()
            .saturating_sub(count(system))
            .saturating_sub(count(question))
            .saturating_sub(TEMPLATE_TOKENS)
    }
}

/// `packing` as the model read it: when its own tokenizer fitted only the first `used`
/// passages, the rest count as left out.
pub fn as_read(mut packing: Packing, used: usize) -> Packing {
    if packing.passages.len() > used {
        packing.left_out += packing.passages.len() - used;
        packing.passages.truncate(used);
        packing.used_tokens = packing.passages.iter().map(|p| p.tokens).sum();
    }
    packing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PackedPassage;

    fn budget(thinking: Thinking) -> Budget {
        Budget {
            context: 4096,
            max_tokens: 512,
            thinking,
            thinking_budget: 256,
        }
    }

    #[test]
    fn thinking_takes_its_budget_and_the_closing_text_from_the_prompt() {
        let off = budget(Thinking::Off);
        let bounded = budget(Thinking::Bounded);
        assert_eq!(off.prompt(), 4096 - 512 - MARGIN);
        assert_eq!(
            off.prompt() - bounded.prompt(),
            256 + THINK_CLOSE.len(),
            "thinking is paid for out of the prompt"
        );
        assert_eq!(off.thinking_limit(), 0);
        assert_eq!(bounded.thinking_limit(), 256);
    }

    #[test]
    fn sources_get_what_the_prompt_leaves_and_never_underflow() {
        let count = |t: &str| t.split_whitespace().count();
        let b = budget(Thinking::Off);
        assert_eq!(
            b.sources("two words", "three more words", &count),
            b.prompt() - 5 - TEMPLATE_TOKENS
        );
        let tiny = Budget { context: 100, ..b };
        assert_eq!(tiny.sources("a", "b", &count), 0);
    }

    #[test]
    fn as_read_moves_unread_passages_to_left_out() {
        let passage = |n, tokens| PackedPassage {
            n,
            chunk_ids: vec![n as i64],
            tokens,
        };
        let packing = Packing {
            passages: vec![passage(1, 10), passage(2, 20), passage(3, 30)],
            left_out: 1,
            used_tokens: 60,
            ..Packing::default()
        };
        let read = as_read(packing.clone(), 1);
        assert_eq!(read.passages.len(), 1);
        assert_eq!(read.left_out, 3);
        assert_eq!(read.used_tokens, 10);
        assert_eq!(as_read(packing.clone(), 3), packing, "all read: unchanged");
    }
}
