//! Office files that are ZIP archives of XML: PPTX and ODP slides (each slide a page, with its
//! title, text and speaker notes), ODT text (headings, paragraphs, lists, tables), and the
//! shared pieces EPUB uses too: reading an archive's parts and walking XML with `quick-xml`.
//! The archive has passed [`UnpackLimits::check_zip`] before any part is read.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::events::Event;

/// A ZIP archive's parts, read by name.
pub(super) struct Archive<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    what: &'static str,
}

impl<'a> Archive<'a> {
    pub(super) fn open(what: &'static str, bytes: &'a [u8]) -> Result<Archive<'a>, String> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| format!("corrupt or unreadable {what} ({e}); open and re-save it"))?;
        Ok(Archive { zip, what })
    }

    /// A part's unpacking reader; `None` when the archive has no such part.
    fn entry(
        &mut self,
        name: &str,
    ) -> Result<Option<zip::read::ZipFile<'_, Cursor<&'a [u8]>>>, String> {
        match self.zip.by_name(name) {
            Ok(entry) => Ok(Some(entry)),
            Err(zip::result::ZipError::FileNotFound) => Ok(None),
            Err(e) => Err(format!(
                "corrupt {} part {name:?} ({e}); open and re-save it",
                self.what
            )),
        }
    }

    /// A part as text; `None` when the archive has no such part.
    pub(super) fn text(&mut self, name: &str) -> Result<Option<String>, String> {
        let what = self.what;
        let Some(mut entry) = self.entry(name)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("corrupt {what} part {name:?} ({e}); open and re-save it"))?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Walks a part's XML as it unpacks ([`walk_xml_from`]); `None` when the archive has no
    /// such part.
    pub(super) fn walk(&mut self, name: &str, on: impl FnMut(Xml)) -> Result<Option<()>, String> {
        let what = self.what;
        let Some(entry) = self.entry(name)? else {
            return Ok(None);
        };
        walk_xml_from(what, std::io::BufReader::with_capacity(64 << 10, entry), on).map(Some)
    }

    /// A part that must be there.
    pub(super) fn required(&mut self, name: &str) -> Result<String, String> {
        let what = self.what;
        self.text(name)?.ok_or_else(|| {
            format!("not a complete {what}: it has no {name:?}; open and re-save it")
        })
    }

    /// Names of the parts.
    pub(super) fn names(&self) -> Vec<String> {
        self.zip.file_names().map(str::to_string).collect()
    }
}

/// An XML event, simplified: element names are local (no namespace prefix), attribute names
/// keep theirs (`r:id` and `id` differ), text is unescaped.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Xml {
    /// An opening tag (an empty one is followed by its [`Xml::Close`]) and its attributes.
    Open(String, Vec<(String, String)>),
    /// A closing tag.
    Close(String),
    /// Text.
    Text(String),
}

/// Walks `xml`, calling `on` for each event. Malformed XML ends the walk with a reason.
pub(super) fn walk_xml(what: &str, xml: &str, on: impl FnMut(Xml)) -> Result<(), String> {
    walk_xml_from(what, xml.as_bytes(), on)
}

/// Walks the XML `input` yields as it is read (a part streamed out of an archive is never
/// held whole), calling `on` for each event. Malformed XML ends the walk with a reason.
pub(super) fn walk_xml_from(
    what: &str,
    input: impl std::io::BufRead,
    mut on: impl FnMut(Xml),
) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut buf = Vec::new();
    let local = |name: &[u8]| {
        let name = String::from_utf8_lossy(name);
        match name.rsplit_once(':') {
            Some((_, local)) => local.to_string(),
            None => name.into_owned(),
        }
    };
    let attrs = |e: &quick_xml::events::BytesStart| -> Vec<(String, String)> {
        e.attributes()
            .flatten()
            .map(|a| {
                let raw = String::from_utf8_lossy(&a.value);
                let value = quick_xml::escape::unescape(&raw)
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| raw.to_string());
                (String::from_utf8_lossy(a.key.as_ref()).into_owned(), value)
            })
            .collect()
    };
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "corrupt {what} (XML error at byte {}: {e}); open and re-save it",
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(e) => on(Xml::Open(local(e.name().as_ref()), attrs(&e))),
            Event::Empty(e) => {
                let name = local(e.name().as_ref());
                on(Xml::Open(name.clone(), attrs(&e)));
                on(Xml::Close(name));
            }
            Event::End(e) => on(Xml::Close(local(e.name().as_ref()))),
            Event::Text(t) => {
                if let Ok(text) = t.xml_content() {
                    on(Xml::Text(text.into_owned()));
                }
            }
            Event::CData(t) => on(Xml::Text(String::from_utf8_lossy(&t).into_owned())),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => r.decode().ok().and_then(|name| {
                        quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string)
                    }),
                };
                if let Some(text) = resolved {
                    on(Xml::Text(text));
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// The attribute whose local name is `name`, preferring one without a namespace prefix;
/// `prefixed:` in front of `name` asks for one with a prefix (`r:id`, whatever the prefix).
pub(super) fn attr<'x>(attrs: &'x [(String, String)], name: &str) -> Option<&'x str> {
    let (prefixed, name) = match name.strip_prefix("prefixed:") {
        Some(n) => (true, n),
        None => (false, name),
    };
    let local = |k: &str| k.rsplit_once(':').map_or(k, |(_, l)| l) == name;
    attrs
        .iter()
        .filter(|(k, _)| local(k) && k.contains(':') == prefixed)
        .chain(attrs.iter().filter(|(k, _)| !prefixed && local(k)))
        .map(|(_, v)| v.as_str())
        .next()
}

/// Relationship id -> target, from an OOXML `.rels` part.
pub(super) fn relationships(rels: &str) -> Result<HashMap<String, (String, String)>, String> {
    let mut out = HashMap::new();
    walk_xml("PPTX", rels, |e| {
        if let Xml::Open(name, attrs) = e {
            if name == "Relationship" {
                if let (Some(id), Some(target)) = (attr(&attrs, "Id"), attr(&attrs, "Target")) {
                    let kind = attr(&attrs, "Type").unwrap_or_default().to_string();
                    out.insert(id.to_string(), (target.to_string(), kind));
                }
            }
        }
    })?;
    Ok(out)
}

/// Resolves a relationship target against the folder of the part that names it.
pub(super) fn resolve(folder: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        folder.split('/').filter(|p| !p.is_empty()).collect()
    };
    for piece in target.trim_start_matches('/').split('/') {
        match piece {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// One slide's words: its title, its paragraphs, its speaker notes.
#[derive(Debug, Default, PartialEq)]
struct Slide {
    title: Option<String>,
    text: Vec<String>,
    notes: Vec<String>,
}

/// The paragraphs of a PPTX slide or notes part: `(placeholder type, paragraph)` for each
/// `<a:p>` that holds text.
fn pptx_paragraphs(xml: &str) -> Result<Vec<(Option<String>, String)>, String> {
    let mut out = Vec::new();
    let mut placeholder: Option<String> = None;
    let mut paragraph: Option<String> = None;
    walk_xml("PPTX", xml, |e| match e {
        Xml::Open(name, attrs) => match name.as_str() {
            "sp" => placeholder = None,
            "ph" => placeholder = Some(attr(&attrs, "type").unwrap_or("body").to_string()),
            "p" => paragraph = Some(String::new()),
            "br" => {
                if let Some(p) = paragraph.as_mut() {
                    p.push(' ');
                }
            }
            _ => {}
        },
        Xml::Close(name) if name == "p" => {
            if let Some(p) = paragraph.take() {
                let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
                if !p.is_empty() {
                    out.push((placeholder.clone(), p));
                }
            }
        }
        Xml::Text(t) => {
            if let Some(p) = paragraph.as_mut() {
                p.push_str(&t);
            }
        }
        _ => {}
    })?;
    Ok(out)
}

fn pptx_slides(archive: &mut Archive) -> Result<Vec<Slide>, String> {
    // Slide order is the presentation's list, not the part names' numbers.
    let presentation = archive.required("ppt/presentation.xml")?;
    let rels = relationships(&archive.required("ppt/_rels/presentation.xml.rels")?)?;
    let mut order = Vec::new();
    walk_xml("PPTX", &presentation, |e| {
        if let Xml::Open(name, attrs) = e {
            if name == "sldId" {
                if let Some((target, _)) = attr(&attrs, "prefixed:id").and_then(|id| rels.get(id)) {
                    order.push(resolve("ppt", target));
                }
            }
        }
    })?;
    let mut slides = Vec::new();
    for part in order {
        let Some(xml) = archive.text(&part)? else {
            continue;
        };
        let mut slide = Slide::default();
        for (placeholder, text) in pptx_paragraphs(&xml)? {
            match placeholder.as_deref() {
                Some("title" | "ctrTitle") if slide.title.is_none() => slide.title = Some(text),
                Some("sldNum" | "dt" | "ftr") => {}
                _ => slide.text.push(text),
            }
        }
        let (folder, file) = part.rsplit_once('/').unwrap_or(("", &part));
        if let Some(rels) = archive.text(&format!("{folder}/_rels/{file}.rels"))? {
            let notes = relationships(&rels)?
                .into_values()
                .find(|(_, kind)| kind.ends_with("/notesSlide"))
                .map(|(target, _)| resolve(folder, &target));
            if let Some(xml) = match notes {
                Some(notes) => archive.text(&notes)?,
                None => None,
            } {
                slide.notes = pptx_paragraphs(&xml)?
                    .into_iter()
                    .filter(|(ph, _)| matches!(ph.as_deref(), Some("body")))
                    .map(|(_, t)| t)
                    .collect();
            }
        }
        slides.push(slide);
    }
    Ok(slides)
}

fn odp_slides(archive: &mut Archive) -> Result<Vec<Slide>, String> {
    let content = archive.required("content.xml")?;
    let mut slides = Vec::new();
    let mut slide: Option<Slide> = None;
    let mut in_title = false;
    let mut in_notes = false;
    let mut paragraph: Option<String> = None;
    walk_xml("ODP", &content, |e| match e {
        Xml::Open(name, attrs) => match name.as_str() {
            "page" => slide = Some(Slide::default()),
            "notes" => in_notes = true,
            "frame" => in_title = attr(&attrs, "class") == Some("title"),
            "p" | "h" => paragraph = Some(String::new()),
            "s" | "tab" | "line-break" => {
                if let Some(p) = paragraph.as_mut() {
                    p.push(' ');
                }
            }
            _ => {}
        },
        Xml::Close(name) => match name.as_str() {
            "page" => slides.extend(slide.take()),
            "notes" => in_notes = false,
            "frame" => in_title = false,
            "p" | "h" => {
                let text = paragraph
                    .take()
                    .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                if let (Some(s), false) = (slide.as_mut(), text.is_empty()) {
                    if in_notes {
                        s.notes.push(text);
                    } else if in_title && s.title.is_none() {
                        s.title = Some(text);
                    } else {
                        s.text.push(text);
                    }
                }
            }
            _ => {}
        },
        Xml::Text(t) => {
            if let Some(p) = paragraph.as_mut() {
                p.push_str(&t);
            }
        }
    })?;
    Ok(slides)
}

/// PPTX or ODP -> (title, markdown, page starts): each slide a section `## Slide N: title`
/// that starts a page, so that a citation gives the slide's number as its page.
pub(super) fn slides_to_markdown(
    bytes: &[u8],
) -> Result<(Option<String>, String, Vec<usize>), String> {
    let mut archive = Archive::open("slides", bytes)?;
    let odp = archive.names().iter().any(|n| n == "content.xml");
    let slides = if odp {
        odp_slides(&mut archive)?
    } else {
        pptx_slides(&mut archive)?
    };
    let mut out = String::new();
    let mut pages = Vec::new();
    for (i, slide) in slides.iter().enumerate() {
        pages.push(out.len());
        match &slide.title {
            Some(title) => out.push_str(&format!("## Slide {}: {title}\n\n", i + 1)),
            None => out.push_str(&format!("## Slide {}\n\n", i + 1)),
        }
        for p in &slide.text {
            out.push_str(p);
            out.push_str("\n\n");
        }
        if !slide.notes.is_empty() {
            out.push_str(&format!("Notes: {}\n\n", slide.notes.join(" ")));
        }
    }
    let title = slides.iter().find_map(|s| s.title.clone());
    Ok((title, out, pages))
}

/// ODT -> (title, markdown): headings by outline level, paragraphs, list items, tables a
/// line per row.
pub(super) fn odt_to_markdown(bytes: &[u8]) -> Result<(Option<String>, String), String> {
    let mut archive = Archive::open("ODT", bytes)?;
    let content = archive.required("content.xml")?;
    let mut out = String::new();
    let mut title = None;
    let mut block: Option<String> = None;
    let mut heading: Option<usize> = None;
    let mut lists = 0usize;
    let mut row: Option<Vec<String>> = None;
    let mut in_body = false;
    walk_xml("ODT", &content, |e| match e {
        Xml::Open(name, attrs) => match name.as_str() {
            "text" => in_body = true,
            "list" => lists += 1,
            "table-row" => row = Some(Vec::new()),
            "h" => {
                heading = Some(
                    attr(&attrs, "outline-level")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(1usize)
                        .clamp(1, 6),
                );
                block = Some(String::new());
            }
            "p" => block = Some(String::new()),
            "s" | "tab" | "line-break" => {
                if let Some(b) = block.as_mut() {
                    b.push(' ');
                }
            }
            _ => {}
        },
        Xml::Close(name) => match name.as_str() {
            "list" => lists = lists.saturating_sub(1),
            "table-row" => {
                if let Some(cells) = row.take() {
                    if cells.iter().any(|c| !c.is_empty()) {
                        out.push_str(&cells.join(" | "));
                        out.push_str("\n\n");
                    }
                }
            }
            "h" | "p" => {
                let text = block
                    .take()
                    .map(|b| b.split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                let level = if name == "h" { heading.take() } else { None };
                if let Some(cells) = row.as_mut() {
                    cells.push(text);
                } else if text.is_empty() || !in_body {
                } else if let Some(level) = level {
                    if level == 1 {
                        title.get_or_insert_with(|| text.clone());
                    }
                    out.push_str(&format!("{} {text}\n\n", "#".repeat(level)));
                } else if lists > 0 {
                    out.push_str(&format!("{}- {text}\n", "  ".repeat(lists - 1)));
                } else {
                    out.push_str(&text);
                    out.push_str("\n\n");
                }
            }
            _ => {}
        },
        Xml::Text(t) => {
            if let Some(b) = block.as_mut() {
                b.push_str(&t);
            }
        }
    })?;
    // The document's own title, when its metadata has one.
    if let Some(meta) = archive.text("meta.xml")? {
        let mut in_title = false;
        let mut meta_title = String::new();
        walk_xml("ODT", &meta, |e| match e {
            Xml::Open(name, _) => in_title = name == "title",
            Xml::Close(_) => in_title = false,
            Xml::Text(t) if in_title => meta_title.push_str(&t),
            Xml::Text(_) => {}
        })?;
        if !meta_title.trim().is_empty() {
            title = Some(meta_title.trim().to_string());
        }
    }
    Ok((title, out))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A ZIP archive of `(name, text)` parts, for tests and fixtures.
    pub(crate) fn zip_of(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in parts {
            zip.start_file(*name, options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    const PRESENTATION: &str = r#"<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="rId3"/><p:sldId id="257" r:id="rId2"/></p:sldIdLst></p:presentation>"#;
    const PRESENTATION_RELS: &str = r#"<Relationships><Relationship Id="rId2" Type="http://schemas/slide" Target="slides/slide1.xml"/><Relationship Id="rId3" Type="http://schemas/slide" Target="slides/slide2.xml"/></Relationships>"#;

    fn slide(title: &str, body: &str) -> String {
        format!(
            r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>
<p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{title}</a:t></a:r></a:p></p:txBody></p:sp>
<p:sp><p:nvSpPr><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{body}</a:t></a:r><a:br/><a:r><a:t>second line</a:t></a:r></a:p></p:txBody></p:sp>
<p:sp><p:nvSpPr><p:nvPr><p:ph type="sldNum"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>7</a:t></a:r></a:p></p:txBody></p:sp>
</p:spTree></p:cSld></p:sld>"#
        )
    }

    pub(crate) fn make_pptx() -> Vec<u8> {
        let notes = r#"<p:notes xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:nvSpPr><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr></p:sp><p:sp><p:nvSpPr><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Say hello &amp; smile.</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:notes>"#;
        let slide_rels = r#"<Relationships><Relationship Id="rId1" Type="http://schemas/notesSlide" Target="../notesSlides/notesSlide1.xml"/></Relationships>"#;
        zip_of(&[
            ("ppt/presentation.xml", PRESENTATION),
            ("ppt/_rels/presentation.xml.rels", PRESENTATION_RELS),
            (
                "ppt/slides/slide1.xml",
                &slide("Budget 2026", "Travel is capped at 900 EUR"),
            ),
            (
                "ppt/slides/slide2.xml",
                &slide("Welcome", "Agenda for the day"),
            ),
            ("ppt/slides/_rels/slide2.xml.rels", slide_rels),
            ("ppt/notesSlides/notesSlide1.xml", notes),
        ])
    }

    #[test]
    fn pptx_slides_come_in_the_presentation_s_order_with_notes_as_pages() {
        let (title, md, pages) = slides_to_markdown(&make_pptx()).unwrap();
        assert_eq!(title.as_deref(), Some("Welcome"));
        assert_eq!(
            md,
            "## Slide 1: Welcome\n\nAgenda for the day second line\n\nNotes: Say hello & smile.\n\n\
             ## Slide 2: Budget 2026\n\nTravel is capped at 900 EUR second line\n\n"
        );
        assert_eq!(pages, vec![0, md.find("## Slide 2").unwrap()]);
    }

    #[test]
    fn odp_and_odt_read_their_content() {
        let odp = zip_of(&[(
            "content.xml",
            r#"<office:document-content xmlns:office="o" xmlns:draw="d" xmlns:text="t" xmlns:presentation="p"><office:body><office:presentation>
<draw:page draw:name="p1"><draw:frame presentation:class="title"><draw:text-box><text:p>Fire drill</text:p></draw:text-box></draw:frame>
<draw:frame presentation:class="outline"><draw:text-box><text:p>Meet at<text:s/>car park B</text:p></draw:text-box></draw:frame>
<presentation:notes><draw:frame><draw:text-box><text:p>Count everyone.</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>
</office:presentation></office:body></office:document-content>"#,
        )]);
        let (title, md, pages) = slides_to_markdown(&odp).unwrap();
        assert_eq!(title.as_deref(), Some("Fire drill"));
        assert_eq!(
            md,
            "## Slide 1: Fire drill\n\nMeet at car park B\n\nNotes: Count everyone.\n\n"
        );
        assert_eq!(pages, vec![0]);
        let odt = zip_of(&[
            (
                "content.xml",
                r#"<office:document-content xmlns:office="o" xmlns:text="t" xmlns:table="tb"><office:body><office:text>
<text:h text:outline-level="1">Leave policy</text:h><text:p>Staff get <text:span>30 days</text:span>.</text:p>
<text:list><text:list-item><text:p>Ask your lead</text:p></text:list-item></text:list>
<table:table><table:table-row><table:table-cell><text:p>Berlin</text:p></table:table-cell><table:table-cell><text:p>28 &#8364;</text:p></table:table-cell></table:table-row></table:table>
</office:text></office:body></office:document-content>"#,
            ),
            (
                "meta.xml",
                r#"<office:document-meta xmlns:office="o" xmlns:dc="dc"><office:meta><dc:title>HR handbook</dc:title></office:meta></office:document-meta>"#,
            ),
        ]);
        let (title, md) = odt_to_markdown(&odt).unwrap();
        assert_eq!(title.as_deref(), Some("HR handbook"));
        assert_eq!(
            md,
            "# Leave policy\n\nStaff get 30 days.\n\n- Ask your lead\nBerlin | 28 €\n\n"
        );
    }

    #[test]
    fn broken_archives_and_xml_give_reasons() {
        let err = slides_to_markdown(b"PK\x03\x04 nope").unwrap_err();
        assert!(err.contains("corrupt or unreadable slides"), "{err}");
        let missing = zip_of(&[("ppt/other.xml", "<x/>")]);
        let err = slides_to_markdown(&missing).unwrap_err();
        assert!(err.contains("not a complete slides"), "{err}");
        let bad = zip_of(&[("content.xml", "<a><b></a>")]);
        let err = odt_to_markdown(&bad).unwrap_err();
        assert!(err.contains("XML error"), "{err}");
        assert_eq!(
            resolve("ppt/slides", "../notesSlides/n1.xml"),
            "ppt/notesSlides/n1.xml"
        );
        assert_eq!(resolve("ppt", "/ppt/slides/s.xml"), "ppt/slides/s.xml");
    }
}
