//! A headless Chromium driven through chromedriver, for the pages' tests.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::http;

/// Debian's chromium and chromedriver, installed by `scripts/setup.sh`.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process and one headless browser session.
pub(crate) struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            "",
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    pub(crate) fn start() -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: run `bash scripts/setup.sh` (it installs chromium and chromium-driver)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--disable-extensions",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let (status, body) = http(&addr, "POST", "/session", &caps.to_string());
        assert_eq!(status, 200, "no browser session: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let session = v["value"]["sessionId"].as_str().unwrap().to_string();
        Browser {
            driver,
            addr,
            session,
            _profile: profile,
        }
    }

    pub(crate) fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let (status, text) = http(&self.addr, method, &path, &body.to_string());
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str::<Value>(&text).unwrap()["value"].clone()
    }

    pub(crate) fn open(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    pub(crate) fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    pub(crate) fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    }

    /// Clicks the element `css` selects, scrolled into the middle of its scroller at once
    /// (the page may scroll smoothly, which would move it under the pointer).
    pub(crate) fn click(&self, css: &str) {
        let id = self.element(css);
        self.js(&format!(
            "document.querySelector({css:?}).scrollIntoView({{block: 'center', behavior: 'instant'}})"
        ));
        self.call("POST", &format!("/element/{id}/click"), json!({}));
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Polls `script` until it returns true (up to 30 s).
    pub(crate) fn wait_for(&self, script: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.js(script) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Browser {
    /// A PNG of the page as the browser draws it.
    pub(crate) fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let path = format!("/session/{}/screenshot", self.session);
        let (status, text) = http(&self.addr, "GET", &path, "");
        assert_eq!(status, 200, "GET {path}: {text}");
        let data: Value = serde_json::from_str(&text).unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(data["value"].as_str().unwrap())
            .unwrap()
    }
}

impl Browser {
    /// A Chrome DevTools command (`Emulation.setEmulatedMedia`, ...).
    pub(crate) fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
    }

    /// Makes the page's viewport exactly `width` x `height` CSS pixels (a portrait kiosk
    /// screen, say), screenshots included.
    pub(crate) fn viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
    }

    /// Presses a key (WebDriver's code for it, e.g. `\u{E004}` for Tab).
    pub(crate) fn press(&self, key: &str) {
        self.call(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
            ]}]}),
        );
    }
}

/// A script for [`Browser::js`] that audits what a visitor can see and touch: `small` lists
/// the controls under `min` CSS pixels either way, `high` the controls of `lower` (a CSS
/// selector) whose top is in the upper half of the viewport, and `contrast` each visible text
/// below WCAG AA (4.5:1, or 3:1 for large text) against the background behind it, with
/// `worst` the lowest ratio seen and `smallest` the smallest side of any control.
pub(crate) fn audit(min: u32, lower: &str) -> String {
    format!(
        r#"
const rgb = (c) => {{ const m = /rgba?\(([^)]+)\)/.exec(c); if (!m) return null;
  const p = m[1].split(',').map(Number); return {{ r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }}; }};
const lum = (c) => {{ const f = (v) => {{ v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }};
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); }};
const behind = (el) => {{ for (let e = el; e; e = e.parentElement) {{ const c = rgb(getComputedStyle(e).backgroundColor);
  if (c && c.a > 0.5) return c; }} return {{ r: 255, g: 255, b: 255 }}; }};
const shown = (el) => el.checkVisibility({{ checkOpacity: true, checkVisibilityCSS: true }}) && !el.closest('.sr');
const controls = Array.from(document.querySelectorAll('button, textarea, input, select, a[href]')).filter(shown);
const name = (el) => el.id || el.className || el.textContent.trim().slice(0, 30);
const smallest = Math.min(...controls.map((el) => {{ const r = el.getBoundingClientRect(); return Math.min(r.width, r.height); }}));
const small = controls.map((el) => [name(el), el.getBoundingClientRect()])
  .filter(([_, r]) => r.width < {min} || r.height < {min}).map(([n, r]) => n + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
const half = window.innerHeight / 2;
const high = Array.from(document.querySelectorAll({lower:?})).filter(shown)
  .filter((el) => el.getBoundingClientRect().top < half).map(name);
const contrast = []; let worst = 99;
for (const el of document.querySelectorAll('body *')) {{
  if (!shown(el) || el.disabled || el.closest('[disabled]')) continue;
  const text = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.nodeValue.trim());
  if (!text) continue;
  const s = getComputedStyle(el); const fg = rgb(s.color); if (!fg) continue;
  const a = lum(fg), b = lum(behind(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const px = parseFloat(s.fontSize); const large = px >= 24 || (px >= 18.66 && Number(s.fontWeight) >= 700);
  worst = Math.min(worst, ratio);
  if (ratio < (large ? 3 : 4.5)) contrast.push(name(el) + ' ' + ratio.toFixed(2));
}}
return {{ small, high, contrast, worst, smallest, controls: controls.length }};
"#
    )
}
