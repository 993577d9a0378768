//! HTML to markdown: the title, the headings and the text, without navigation boilerplate.

use super::*;

/// Elements that are never main text.
pub(super) const BOILERPLATE: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "select", "iframe", "svg", "canvas", "head",
];

/// HTML -> (title, markdown of the main text). The main text is the `<main>` element, else
/// the only `<article>`, else `<body>`; navigation, headers, footers, scripts and styles are
/// dropped; headings become markdown headings.
pub(super) fn html_to_markdown(html: &str) -> Result<(Option<String>, String), String> {
    let converter = htmd::HtmlToMarkdown::builder()
        .skip_tags(BOILERPLATE.to_vec())
        .build();
    let tree = converter
        .html_to_tree(html)
        .map_err(|e| format!("cannot parse HTML: {e}"))?;
    let title = find(&tree, "title").map(|t| collapse_ws(&text_of(&t)));
    let articles = find_all(&tree, "article");
    let main = find(&tree, "main")
        .or_else(|| (articles.len() == 1).then(|| articles[0].clone()))
        .or_else(|| find(&tree, "body"))
        .unwrap_or_else(|| Rc::clone(&tree));
    // `tree` must outlive the conversion: nodes only hold weak links to their parents.
    let markdown = converter.tree_to_markdown(&main);
    drop(tree);
    Ok((title, markdown))
}

pub(super) fn element_name(node: &Handle) -> Option<&str> {
    match &node.data {
        NodeData::Element { name, .. } => Some(&name.local),
        _ => None,
    }
}

/// `node` and everything below it, in document order.
pub(super) fn descendants(node: &Handle) -> impl Iterator<Item = Handle> {
    let mut stack = vec![Rc::clone(node)];
    std::iter::from_fn(move || {
        let n = stack.pop()?;
        stack.extend(n.children.borrow().iter().rev().cloned());
        Some(n)
    })
}

pub(super) fn find(node: &Handle, tag: &str) -> Option<Handle> {
    descendants(node).find(|n| element_name(n) == Some(tag))
}

pub(super) fn find_all(node: &Handle, tag: &str) -> Vec<Handle> {
    descendants(node)
        .filter(|n| element_name(n) == Some(tag))
        .collect()
}

pub(super) fn text_of(node: &Handle) -> String {
    descendants(node)
        .filter_map(|n| match &n.data {
            NodeData::Text { contents } => Some(contents.borrow().to_string()),
            _ => None,
        })
        .collect()
}
