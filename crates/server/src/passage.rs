//! Passages as a page shows them: markdown rendered to HTML that can neither run nor fetch
//! anything. A document's own HTML is shown as text, links keep only their words, images only
//! their alternative text; other formats become escaped paragraphs.

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// Sets each citation's `html` from its text.
pub fn render(citations: &mut [rag::types::Citation]) {
    for c in citations {
        c.html = Some(passage_html(&c.place.format, &c.text));
    }
}

/// [`render`] for an answer's citations and sources.
pub fn render_answer(answer: &mut rag::types::Answer) {
    render(&mut answer.citations);
    render(&mut answer.sources);
}

/// `text` (a chunk of a document read as `format`) as safe HTML.
pub fn passage_html(format: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    if format == "markdown" {
        let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
        html::push_html(&mut out, parser.filter_map(safe));
    } else {
        html::push_html(&mut out, paragraphs(text).into_iter());
    }
    out
}

/// An event that cannot run or fetch anything: raw HTML as text (escaped when written), no
/// link or image elements (their words stay).
fn safe(event: Event<'_>) -> Option<Event<'_>> {
    match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::HtmlBlock)
        | Event::End(TagEnd::Link | TagEnd::Image | TagEnd::HtmlBlock) => None,
        e => Some(e),
    }
}

/// Plain text as paragraphs (split at blank lines, lines kept), each piece escaped when written.
fn paragraphs(text: &str) -> Vec<Event<'_>> {
    let mut events = Vec::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        events.push(Event::Start(Tag::Paragraph));
        for (i, line) in para.lines().enumerate() {
            if i > 0 {
                events.push(Event::HardBreak);
            }
            events.push(Event::Text(line.into()));
        }
        events.push(Event::End(TagEnd::Paragraph));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::passage_html;

    #[test]
    fn markdown_is_rendered_and_nothing_in_it_can_run_or_fetch() {
        let md = "## Car parks\n\nVisitors park in **car park B**, entered from\nMill Road. \
                  See [the map](javascript:alert(1)) or ![a map](http://example.com/x.png).\n\n\
                  <script>alert(1)</script>\n\n<img src=x onerror=alert(1)> text <b onclick=x>bold</b>\n\n\
                  | Stay | Cost |\n|---|---|\n| 2 h | 2.50 |\n";
        let html = passage_html("markdown", md);
        assert!(html.contains("<h2>Car parks</h2>"), "{html}");
        assert!(html.contains("<strong>car park B</strong>"), "{html}");
        assert!(html.contains("See the map or a map."), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains("<td>2.50</td>"), "{html}");
        for bad in [
            "<script",
            "<img",
            "<a ",
            "<b ",
            "javascript:",
            "http://",
            "onerror=alert(1)>",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }

    #[test]
    fn other_formats_are_escaped_paragraphs_in_any_script() {
        let html = passage_html("pdf", "Öffnungszeiten <b>9-17</b>\nمواقف\n\n停车 & 收费");
        assert_eq!(
            html,
            "<p>Öffnungszeiten &lt;b&gt;9-17&lt;/b&gt;<br />\nمواقف</p>\n<p>停车 &amp; 收费</p>\n"
        );
    }
}
