//! The static bundles' rules (the `/admin` pages and the `/platform` console), checked on their
//! files: they keep to a strict CSP and load nothing from elsewhere.

/// Checks a bundle whose page is `page`, whose assets are served under `prefix` (for example
/// `/admin/assets/`), and whose component serves exactly `served` (sorted file names), reading
/// each file with `read`: no inline script, style or event handler; no HTML parsed from
/// strings and no style set from script; no URL off the host; every module the page loads,
/// directly or through imports, is served, and every file served is used.
pub fn check(page: &str, prefix: &str, served: &[String], read: impl Fn(&str) -> String) {
    let html = read(page);
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<style"), "{page}: inline <style>");
    assert!(!lower.contains(" style="), "{page}: a style attribute");
    for tag in lower.split("<script").skip(1) {
        let end = tag.find('>').unwrap();
        let open = &tag[..end];
        assert!(
            open.contains(&format!("src=\"{prefix}")),
            "{page}: inline <script{open}>"
        );
        assert!(
            tag[end + 1..].trim_start().starts_with("</script>"),
            "{page}: a script with a body"
        );
    }
    assert!(
        !lower
            .split(|c: char| c.is_whitespace())
            .any(|w| w.starts_with("on") && w.contains("=\"")),
        "{page}: an inline event handler"
    );
    let mut used = vec![page.to_owned()];
    for asset in html.split(prefix).skip(1) {
        used.push(asset[..asset.find('"').unwrap()].to_owned());
    }
    let mut i = 0;
    while i < used.len() {
        let file = used[i].clone();
        i += 1;
        assert!(
            served.contains(&file),
            "{file} is referenced but not served"
        );
        let text = read(&file);
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            ".style.",
            "setAttribute('style'",
            "localStorage",
            "http://",
            "https://",
            "//cdn",
        ] {
            assert!(!text.contains(banned), "{file} contains {banned}");
        }
        if file.ends_with(".js") {
            for part in text.split(" from './").skip(1) {
                let module = part[..part.find('\'').unwrap()].to_owned();
                if !used.contains(&module) {
                    used.push(module);
                }
            }
        }
    }
    used.sort();
    assert_eq!(used, served, "every file served is used, and only those");
}
