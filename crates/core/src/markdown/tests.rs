use super::*;
use crate::contact::Role;

/// A body as every contact without attributes sees it.
fn render_html(markdown: &str) -> String {
    Body::compile(markdown, &[], "body").unwrap().html_for(&Contact::new(1, Role::User, 0))
}

#[test]
fn styling_renders_and_raw_html_does_not() {
    let html = render_html(
        "# Hello\n\n**bold** *it* ~~no~~ [site](https://x.test) [Go](https://x.test/a \"button\")\n\n- a\n- b\n\n![cat](https://x.test/c.png)\n\n<script>alert(1)</script> <b onclick=x>b</b>",
    );
    assert!(html.contains("<h1>Hello</h1>"), "{html}");
    assert!(html.contains("<strong>bold</strong> <em>it</em> <del>no</del>"), "{html}");
    assert!(
        html.contains("<a href=\"https://x.test\" target=\"_blank\" rel=\"noopener noreferrer\">site</a>"),
        "{html}"
    );
    assert!(html.contains("class=\"tidings-button\""), "{html}");
    assert!(html.contains("<ul><li>a</li><li>b</li></ul>"), "{html}");
    assert!(html.contains("<img src=\"https://x.test/c.png\" alt=\"cat\">"), "{html}");
    assert!(!html.contains("<script") && html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("<b onclick"), "{html}");
}

#[test]
fn dangerous_addresses_are_dropped() {
    let html = render_html("[x](javascript:alert(1)) ![y](data:text/html,boom) [z](JAVASCRIPT:1)");
    assert!(!html.to_ascii_lowercase().contains("javascript") && !html.contains("data:"), "{html}");
    assert!(html.contains('x') && !html.contains("<a"), "{html}");
}

#[test]
fn personalisation_survives_markdown_and_is_escaped() {
    let body = Body::compile(
        "Hi **{{first_name | fallback: \"there\"}}**, [see](https://x.test/?u={{external_id}})",
        &[],
        "body",
    )
    .unwrap();
    let mut c = Contact::new(1, Role::User, 0);
    assert_eq!(
        body.html_for(&c),
        "<p>Hi <strong>there</strong>, <a href=\"https://x.test/?u=\" target=\"_blank\" rel=\"noopener noreferrer\">see</a></p>"
    );
    c.name = Some("<Ada>".into());
    c.external_id = Some("a\"b".into());
    let html = body.html_for(&c);
    assert!(html.contains("<strong>&lt;Ada&gt;</strong>") && html.contains("?u=a&quot;b\""), "{html}");
    assert_eq!(body.text_for(&c), "Hi <Ada>, see (https://x.test/?u=a\"b)");
    assert!(Body::compile("Hi {{nope}}", &[], "body").is_err());
    // A value that looks like a tag is inserted as text, never read as a tag.
    c.name = Some("{{email}}".into());
    c.email = Some("secret@example.test".into());
    assert!(!body.html_for(&c).contains("secret"), "{}", body.html_for(&c));
}

#[test]
fn personalised_links_cannot_become_scripts() {
    let custom = [CustomAttribute::new("site", crate::attribute::DataType::String)];
    let body = Body::compile(
        "[Docs](https://x.test/a?b=1&c=2 \"button\") [Mail](mailto:a@x.test) [Site]({{custom_attributes.site}})",
        &custom,
        "body",
    )
    .unwrap();
    let mut contact = Contact::new(1, Role::User, 1);
    contact.custom_attributes.insert("site".into(), serde_json::json!("javascript:alert(1)"));
    let html = body.html_for(&contact);
    assert!(html.contains("<a href=\"https://x.test/a?b=1&amp;c=2\" class=\"tidings-button\""), "{html}");
    assert!(html.contains("<a href=\"mailto:a@x.test\""), "{html}");
    assert!(html.contains("<a href=\"#\""), "{html}");
    assert!(!html.contains("javascript"), "a personalised link became a script: {html}");
    contact.custom_attributes.insert("site".into(), serde_json::json!("https://ann.example.test"));
    assert!(body.html_for(&contact).contains("<a href=\"https://ann.example.test\""));
}

#[test]
fn the_authors_text_cannot_forge_a_placeholder() {
    let custom = [CustomAttribute::new("site", crate::attribute::DataType::String)];
    for md in [
        "[x](\u{E000}javascript:alert(1))",
        "![x](\u{E000}javascript:alert(1))",
        "[x](\u{E000}0\u{E001}javascript:alert(1)) {{name}}",
        "{{name}} [x](\u{E000}0\u{E001}javascript:alert(1))",
        "[x](\u{E001}\u{E000}javascript:alert(1))",
        "[x](\u{E000}99\u{E001}javascript:alert(1))",
    ] {
        let body = Body::compile(md, &custom, "body").unwrap();
        let html = body.html_for(&Contact::new(1, Role::User, 0));
        assert!(!html.to_ascii_lowercase().contains("href=\"javascript"), "{md:?} → {html}");
        assert!(!html.contains("src=\"javascript"), "{md:?} → {html}");
        assert!(!html.contains("<a") && !html.contains("<img"), "a refused address links nowhere: {md:?} → {html}");
    }
    // The characters themselves are the author's text, and stay where they were written.
    let body = Body::compile("a\u{E000}b\u{E001}c {{name}}", &[], "body").unwrap();
    let mut c = Contact::new(1, Role::User, 0);
    c.name = Some("Ann".into());
    assert_eq!(body.html_for(&c), "<p>a&#xE000;b&#xE001;c Ann</p>");
    assert_eq!(body.text_for(&c), "a\u{E000}b\u{E001}c Ann");
}

#[test]
fn braces_of_the_authors_text_are_never_read_as_tags() {
    let mut c = Contact::new(1, Role::User, 0);
    c.email = Some("secret@example.test".into());
    // `{\{email}}` renders as the text "{{email}}", which must not be personalised, in the HTML
    // or in the text.
    let html = render_html("{\\{email}} `{x}` [a](https://x.test/{b})");
    assert!(!html.contains("secret"), "{html}");
    let body = Body::compile("{\\{email}} and {\\{nope}}", &[], "body").unwrap();
    assert_eq!(body.html_for(&c), "<p>{{email}} and {{nope}}</p>");
    assert_eq!(body.text_for(&c), "{{email}} and {{nope}}");
    assert!(html.contains("href=\"https://x.test/{b}\""), "{html}");
}

#[test]
fn email_autolinks_are_mailto_links() {
    let html = render_html("<ann@example.test>");
    assert!(html.contains("<a href=\"mailto:ann@example.test\""), "{html}");
}

/// A strict reading of rendered HTML against the allow-list, written apart from the renderer:
/// every tag and attribute must be allowed, every address allowed (or one Tidings itself wrote),
/// every `&` an entity, and no `<` or `>` outside a tag.
fn check_allowed(html: &str) -> Result<(), String> {
    let elements: std::collections::HashMap<&str, &[&str]> = allowed::ELEMENTS.iter().copied().collect();
    let classes: std::collections::HashMap<&str, &[&str]> = allowed::CLASSES.iter().copied().collect();
    let decode = |v: &str| -> Result<String, String> {
        let mut out = String::new();
        let mut rest = v;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            let end = rest[at..].find(';').ok_or_else(|| format!("a bare & in {v:?}"))? + at;
            let entity = &rest[at + 1..end];
            let ch = match entity {
                "amp" => '&',
                "quot" => '"',
                "lt" => '<',
                "gt" => '>',
                "nbsp" => '\u{a0}',
                _ if entity.starts_with("#x") || entity.starts_with("#X") => u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("bad entity &{entity};"))?,
                _ if entity.starts_with('#') => {
                    entity[1..].parse().ok().and_then(char::from_u32).ok_or_else(|| format!("bad entity &{entity};"))?
                }
                _ => return Err(format!("unknown entity &{entity};")),
            };
            out.push(ch);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    };
    let mut rest = html;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if text.contains('>') {
            return Err(format!("a > in text: {text:?}"));
        }
        decode(text)?;
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').ok_or("a tag that never closes")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            if !elements.contains_key(name) {
                return Err(format!("end tag {name}"));
            }
            continue;
        }
        let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        let allowed_attrs = elements.get(name).ok_or_else(|| format!("element <{name}>"))?;
        while !attrs.is_empty() {
            let (attr, after) = attrs.split_once("=\"").ok_or_else(|| format!("attribute syntax in <{tag}>"))?;
            let (value, after) = after.split_once('"').ok_or_else(|| format!("unquoted value in <{tag}>"))?;
            attrs = after.strip_prefix(' ').unwrap_or(after);
            let value = decode(value)?;
            match attr {
                "class" => {
                    let ok = classes.get(name).is_some_and(|c| value.split(' ').all(|v| c.contains(&v)));
                    if !ok {
                        return Err(format!("class {value:?} on <{name}>"));
                    }
                }
                "rel" if name == "a" && value == allowed::LINK_REL => {}
                "href" | "src" if allowed_attrs.contains(&attr) => {
                    let ours = value == allowed::NEUTRAL_HREF || value == allowed::NEUTRAL_SRC;
                    let browser_reads = value.trim_start_matches(|c: char| c <= ' ').replace(['\t', '\n', '\r'], "");
                    if !ours && !allowed::url_ok(&browser_reads) {
                        return Err(format!("address {value:?} on <{name}>"));
                    }
                }
                _ if allowed_attrs.contains(&attr) => {}
                _ => return Err(format!("attribute {attr} on <{name}>")),
            }
        }
    }
    Ok(())
}

#[test]
fn the_checker_refuses_what_it_should() {
    assert!(check_allowed("<p>a &amp; <a href=\"https://x.test\" rel=\"noopener noreferrer\">b</a></p>").is_ok());
    for bad in [
        "<script>x</script>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"&#x6A;avascript:1\">x</a>",
        "<a href=\" java\tscript:1\">x</a>",
        "<img src=\"data:x\">",
        "<p onclick=\"x\">",
        "<a class=\"evil\">",
        "a > b",
        "a & b",
    ] {
        assert!(check_allowed(bad).is_err(), "{bad:?} passed");
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Pieces of Markdown, HTML, addresses and Tidings' own markers, to be strung together.
    const PIECES: &[&str] = &[
        "[",
        "]",
        "(",
        ")",
        "](",
        "![",
        "<",
        ">",
        "\"",
        "'",
        "`",
        "```\n",
        "\\",
        "*",
        "_",
        "**",
        "~~",
        "# ",
        "> ",
        "- ",
        "1. ",
        "3. ",
        "\n",
        "\n\n",
        " ",
        "\t",
        "&",
        "&#",
        "&#58;",
        "&quot;",
        "%3A",
        ":",
        "javascript:",
        "JaVaScRiPt:",
        "java\tscript:",
        "data:text/html,",
        "vbscript:",
        "https://x.test/",
        "http://x.test/a?b=1&c=2",
        "mailto:a@x.test",
        "//evil.test",
        "/relative",
        "#top",
        " \"button\"",
        " 'title'",
        "<script>",
        "</a>",
        "<a href=\"",
        "<img src=x ",
        "onerror=",
        "<!--",
        "-->",
        "<https://x.test>",
        "<a@x.test>",
        "\u{E000}",
        "\u{E001}",
        "\u{E000}0\u{E001}",
        "\u{F8FF}",
        "\u{0}",
        "{{",
        "}}",
        "{",
        "}",
        "{\\{",
        "\\{\\{x}}",
        "{{name}}",
        "{{email | fallback: \"x\"}}",
        "{{custom_attributes.site}}",
        "{{custom_attributes.site | fallback: \"javascript:x\"}}",
        "[x]: ",
        "    ",
    ];

    /// Pieces an address is made of.
    const ADDRESS: &[&str] = &[
        "\u{E000}",
        "\u{E001}",
        "0",
        "1",
        "javascript:",
        "JaVaScRiPt:",
        "java\tscript:",
        " ",
        "\t",
        "&#58;",
        "%3A",
        "data:text/html,",
        "alert(1)",
        "https://x.test/",
        "mailto:",
        "{{name}}",
        "{{custom_attributes.site}}",
        "<",
        ">",
        "\\",
        "\"",
        "'",
        "(",
        ")",
        "//",
        "#",
    ];

    /// A link or an image whose address is strung together from [`ADDRESS`].
    fn link() -> impl Strategy<Value = String> {
        let address = proptest::collection::vec(proptest::sample::select(ADDRESS), 0..5).prop_map(|v| v.concat());
        let title = proptest::sample::select(&["", " \"button\"", " 'x'", " (y)"][..]);
        (any::<bool>(), address, title, any::<bool>()).prop_map(|(image, address, title, angle)| {
            let address = if angle { format!("<{address}>") } else { address };
            format!("{}[x]({address}{title})", if image { "!" } else { "" })
        })
    }

    fn markdown() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => proptest::sample::select(PIECES).prop_map(str::to_owned),
            2 => link(),
            1 => any::<String>(),
            1 => "[\\u{E000}-\\u{F8FF}a-z:/ ]{0,4}",
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    fn value() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            proptest::sample::select(PIECES).prop_map(str::to_owned),
            "(javascript|data|https|mailto|JAVASCRIPT): ?[a-z<>\"'&(){}]{0,8}",
            any::<String>(),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn rendered_bodies_hold_only_what_is_allowed(md in markdown(), name in value(), site in value()) {
            let custom = [CustomAttribute::new("site", crate::attribute::DataType::String)];
            // Bodies with an unknown or malformed tag are refused at compose time: nothing to
            // render. Any other body compiles, whatever braces its text holds.
            let tags_ok = Template::parse(&md, &custom, "body").is_ok();
            let compiled = Body::compile(&md, &custom, "body");
            prop_assert_eq!(compiled.is_ok(), tags_ok, "{:?}\n{:?}", compiled.as_ref().err(), md);
            let Ok(body) = compiled else { return Ok(()) };
            let mut contact = Contact::new(1, Role::User, 0);
            contact.name = name;
            contact.email = Some("e@x.test".into());
            if let Some(site) = site {
                contact.custom_attributes.insert("site".into(), serde_json::json!(site));
            }
            let html = body.html_for(&contact);
            prop_assert!(check_allowed(&html).is_ok(), "{:?}\n{md:?}\n→ {html}", check_allowed(&html));
            body.text_for(&contact);
        }
    }
}
